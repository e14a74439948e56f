#include "health.h"

#include <algorithm>

namespace tuneslot {

HealthPolicy HealthPolicy::of(const BackendConfig& backend) noexcept
{
    HealthPolicy p;
    p.fail_after = backend.fail_after.value_or(p.fail_after);
    p.recover_after = backend.recover_after.value_or(p.recover_after);
    p.slow_start = backend.slow_start.value_or(p.slow_start);
    return p;
}

std::uint32_t ramped_weight(std::uint32_t weight, std::chrono::milliseconds elapsed,
    std::chrono::milliseconds slow_start) noexcept
{
    if (weight == 0 || slow_start.count() <= 0 || elapsed >= slow_start)
        return weight;
    if (elapsed.count() <= 0)
        return 1;
    auto w = static_cast<std::uint64_t>(weight) * static_cast<std::uint64_t>(elapsed.count())
        / static_cast<std::uint64_t>(slow_start.count());
    return static_cast<std::uint32_t>(std::max<std::uint64_t>(w, 1));
}

BackendRound BackendHealth::observe(BackendRound poll, const HealthPolicy& policy, MonoClock::time_point now)
{
    const bool good = poll.health == TUNE_HEALTH_UP;
    switch (state_) {
    case State::fresh:
        state_ = good ? State::up : State::down;
        break;
    case State::up:
        failures_ = good ? 0 : failures_ + 1;
        if (failures_ >= policy.fail_after) {
            state_ = State::down;
            successes_ = 0;
            ramp_start_.reset();
        }
        break;
    case State::down:
        successes_ = good ? successes_ + 1 : 0;
        if (successes_ >= policy.recover_after) {
            state_ = State::up;
            failures_ = 0;
            successes_ = 0;
            if (policy.slow_start.count() > 0)
                ramp_start_ = now;
        }
        break;
    }

    if (good) {
        last_good_ = poll;
    } else {
        reason_ = poll.reason;
    }

    ramp_ = 1.0;
    if (state_ == State::down) {
        last_good_.reset();
        BackendRound shown;
        shown.health = TUNE_HEALTH_DOWN;
        shown.reason = reason_;
        shown.polled_ms = poll.polled_ms;
        shown.weight = poll.weight;
        return shown;
    }

    // up: the poll itself, or while failing (fewer than fail_after in a
    // row) the last good one
    BackendRound shown = good || !last_good_ ? std::move(poll) : *last_good_;
    if (ramp_start_) {
        auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - ramp_start_.value());
        if (elapsed >= policy.slow_start) {
            ramp_start_.reset();
        } else {
            shown.weight = ramped_weight(shown.weight, elapsed, policy.slow_start);
            ramp_ = static_cast<double>(elapsed.count()) / static_cast<double>(policy.slow_start.count());
        }
    }
    return shown;
}

std::vector<BackendRound> HealthBook::observe(const Config& config, std::vector<BackendRound> polls,
    MonoClock::time_point now)
{
    std::map<std::string, BackendHealth, std::less<>> kept;
    std::vector<BackendRound> shown;
    shown.reserve(polls.size());
    for (size_t i = 0; i < config.backends.size(); ++i) {
        const BackendConfig& b = config.backends[i];
        auto node = backends_.extract(b.name);
        BackendHealth health = node.empty() ? BackendHealth() : std::move(node.mapped());
        shown.push_back(health.observe(std::move(polls[i]), HealthPolicy::of(b), now));
        kept.emplace(b.name, std::move(health));
    }
    backends_ = std::move(kept);
    return shown;
}

const BackendHealth* HealthBook::find(const std::string& name) const
{
    auto it = backends_.find(name);
    return it == backends_.end() ? nullptr : &it->second;
}

}  // namespace tuneslot
