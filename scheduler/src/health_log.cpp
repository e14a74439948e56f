#include "health_log.h"

#include "log.h"

namespace tuneslot {

HealthLog::HealthLog(const Config& config)
    : config_(config),
      backends_(config.backends.size()),
      slots_(config.streams.size(), std::vector<std::optional<tune_health_t>>(config.backends.size()))
{
}

void HealthLog::update(const std::vector<BackendRound>& backends)
{
    for (size_t i = 0; i < config_.backends.size(); ++i) {
        const std::string& name = config_.backends[i].name;
        const BackendRound& now = backends[i];
        std::optional<Seen>& before = backends_[i];
        const bool up = now.health == TUNE_HEALTH_UP;

        if (!before) {
            if (up)
                log::info("backend ", name, ": up");
            else
                log::warn("backend ", name, ": down: ", now.reason);
        } else if (before->health == TUNE_HEALTH_UP && !up) {
            log::warn("backend ", name, ": up -> down: ", now.reason);
        } else if (before->health != TUNE_HEALTH_UP && up) {
            log::notice("backend ", name, ": down -> up");
        } else if (!up && before->reason != now.reason) {
            log::warn("backend ", name, ": still down: ", now.reason, " (was: ", before->reason, ")");
        }
        before = Seen{now.health, now.reason};

        for (size_t s = 0; s < config_.streams.size(); ++s) {
            std::optional<tune_health_t>& slot = slots_[s][i];
            if (!up) {
                slot.reset();
                continue;
            }
            const StreamConfig& stream = config_.streams[s];
            tune_health_t health = slot_state(stream, now).health;
            if (slot == health)
                continue;
            if (health == TUNE_HEALTH_NOSOURCE)
                log::warn("stream ", stream.name, " on ", name, ": no source on mount ", stream.mount);
            else if (slot)
                log::notice("stream ", stream.name, " on ", name, ": source on mount ", stream.mount, " is back");
            slot = health;
        }
    }
}

}  // namespace tuneslot
