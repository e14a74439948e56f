#include "health_log.h"

#include "log.h"

#include <algorithm>

namespace tuneslot {

void HealthLog::update(const Config& config, const std::vector<BackendRound>& backends)
{
    std::map<std::string, Seen> seen;
    for (size_t i = 0; i < config.backends.size(); ++i) {
        const std::string& name = config.backends[i].name;
        const BackendRound& now = backends[i];
        const bool up = now.health == TUNE_HEALTH_UP || now.health == TUNE_HEALTH_DRAINING;
        auto before = backends_.find(name);

        if (before == backends_.end()) {
            if (up)
                log::info("backend ", name, ": up");
            else
                log::warn("backend ", name, ": down: ", now.reason);
        } else if (before->second.up && !up) {
            log::warn("backend ", name, ": up -> down: ", now.reason);
        } else if (!before->second.up && up) {
            log::notice("backend ", name, ": down -> up");
        } else if (!up && before->second.reason != now.reason) {
            log::warn("backend ", name, ": still down: ", now.reason, " (was: ", before->second.reason, ")");
        }
        seen.emplace(name, Seen{up, up ? std::string() : now.reason});

        for (const StreamConfig& stream : config.streams) {
            const auto key = std::make_pair(stream.name, name);
            if (!up) {
                slots_.erase(key);
                continue;
            }
            tune_health_t health = slot_state(stream, now).health;
            // draining is the operator's doing, logged with the drain
            const tune_health_t source = health == TUNE_HEALTH_DRAINING ? TUNE_HEALTH_UP : health;
            auto slot = slots_.find(key);
            if (slot != slots_.end() && slot->second == source)
                continue;
            if (source == TUNE_HEALTH_NOSOURCE)
                log::warn("stream ", stream.name, " on ", name, ": no source on mount ", stream.mount);
            else if (slot != slots_.end())
                log::notice("stream ", stream.name, " on ", name, ": source on mount ", stream.mount, " is back");
            slots_[key] = source;
        }
    }
    backends_ = std::move(seen);
    // slots of backends or streams a reload removed: one that comes back is
    // told of as new
    std::erase_if(slots_, [&](const auto& entry) {
        const auto& [stream, backend] = entry.first;
        return !backends_.contains(backend)
            || std::none_of(config.streams.begin(), config.streams.end(),
                   [&](const StreamConfig& s) { return s.name == stream; });
    });
}

}  // namespace tuneslot
