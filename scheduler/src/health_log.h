#pragma once

// Logs changes of state, not states: one line when a backend goes down (with
// the reason), comes back, or stays down for another reason, and one when a
// stream's mount on an up backend loses or regains its source.  A backend
// that stays as it was is silent, round after round.  What is logged is what
// the snapshot shows (after fail_after / recover_after), so a single lost
// poll is not a line.  State is kept by name, so a reload does not repeat
// lines for backends that stay.

#include "config.h"
#include "round.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace tuneslot {

class HealthLog final {
public:
    HealthLog() = default;
    HealthLog(const HealthLog&) = delete;
    HealthLog& operator=(const HealthLog&) = delete;

    // backends[i] belongs to config.backends[i].
    void update(const Config& config, const std::vector<BackendRound>& backends);

private:
    struct Seen {
        bool up;                // up or draining
        std::string reason;
    };

    std::map<std::string, Seen> backends_;
    // (stream, backend): the slot's health while its backend was up
    std::map<std::pair<std::string, std::string>, tune_health_t> slots_;
};

}  // namespace tuneslot
