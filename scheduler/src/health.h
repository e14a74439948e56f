#pragma once

// Each backend's health over time: a poll's outcome is one vote, not the
// verdict.  A backend that is up goes down only after fail_after failed
// polls in a row, and one that is down comes back only after recover_after
// good polls in a row; then its weight ramps up over slow_start, so a
// recovered Icecast is not handed every new listener of the cluster at once.
//
// While an up backend is failing but not yet down, the snapshot keeps
// showing its last good poll (its counts and that poll's polled_ms, so
// readers can see the age): one lost poll must not send listeners elsewhere.
// A backend never seen up (at daemon start) is down from its first failed
// poll, and up, unramped, from its first good one.
//
// Pure and single-threaded: no logging, time passed in, so the state machine
// is unit-tested with a fake clock.  Health is kept by backend name, so a
// configuration reload keeps it for the backends that stay.

#include "clock.h"
#include "config.h"
#include "round.h"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tuneslot {

struct HealthPolicy {
    unsigned fail_after = 3;
    unsigned recover_after = 2;
    std::chrono::milliseconds slow_start{0};

    static HealthPolicy of(const BackendConfig& backend) noexcept;
};

class BackendHealth final {
public:
    // Takes one poll (already evaluated, weight = the operator's) and
    // returns what the snapshot shows for the backend now.
    BackendRound observe(BackendRound poll, const HealthPolicy& policy, MonoClock::time_point now);

    bool up() const noexcept { return state_ == State::up; }
    bool ever_polled() const noexcept { return state_ != State::fresh; }
    // Consecutive failed polls while up; good polls so far while down.
    unsigned failures() const noexcept { return failures_; }
    unsigned successes() const noexcept { return successes_; }
    // 0..1: how far the slow start has come (1 when not ramping).
    double ramp() const noexcept { return ramp_; }

private:
    enum class State { fresh, up, down };

    State state_ = State::fresh;
    unsigned failures_ = 0;
    unsigned successes_ = 0;
    std::optional<BackendRound> last_good_;
    std::string reason_;
    std::optional<MonoClock::time_point> ramp_start_;
    double ramp_ = 1.0;
};

// The weight while ramping: the operator's weight times the elapsed share
// of slow_start, at least 1 so a recovered backend gets some listeners.
std::uint32_t ramped_weight(std::uint32_t weight, std::chrono::milliseconds elapsed,
    std::chrono::milliseconds slow_start) noexcept;

// Every backend's BackendHealth, by name.
class HealthBook final {
public:
    HealthBook() = default;
    HealthBook(const HealthBook&) = delete;
    HealthBook& operator=(const HealthBook&) = delete;

    // polls[i] belongs to config.backends[i]; returns the rounds to show, in
    // the same order.  Backends gone from the config are forgotten.
    std::vector<BackendRound> observe(const Config& config, std::vector<BackendRound> polls,
        MonoClock::time_point now);

    const BackendHealth* find(const std::string& name) const;

private:
    std::map<std::string, BackendHealth, std::less<>> backends_;
};

}  // namespace tuneslot
