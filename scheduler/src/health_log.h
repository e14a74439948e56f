#pragma once

// Logs changes of state, not states: one line when a backend goes down (with
// the reason), comes back, or stays down for another reason, and one when a
// stream's mount on an up backend loses or regains its source.  A backend
// that stays as it was is silent, round after round.

#include "config.h"
#include "round.h"

#include <optional>
#include <string>
#include <vector>

namespace tuneslot {

class HealthLog final {
public:
    // config must outlive the HealthLog.
    explicit HealthLog(const Config& config);
    HealthLog(const HealthLog&) = delete;
    HealthLog& operator=(const HealthLog&) = delete;

    // backends[i] belongs to config.backends[i].
    void update(const std::vector<BackendRound>& backends);

private:
    struct Seen {
        tune_health_t health;
        std::string reason;
    };

    const Config& config_;
    std::vector<std::optional<Seen>> backends_;
    // [stream][backend]: the slot's health while its backend was up
    std::vector<std::vector<std::optional<tune_health_t>>> slots_;
};

}  // namespace tuneslot
