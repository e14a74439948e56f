#include "fleet_view.h"

#include <tune_snapshot.h>

#include <algorithm>

namespace tuneslot {

namespace {

FleetBackend configured(const BackendConfig& b)
{
    FleetBackend v;
    v.name = b.name;
    v.region = b.region;
    v.format = std::string(status_format_name(b.format));
    v.health = "unpolled";
    v.configured_weight = b.weight;
    return v;
}

// free times weight as the front-ends weigh a slot, unlimited the most
double pull(const FleetSlot& s)
{
    return (s.free == TUNE_UNLIMITED ? 4294967296.0 : static_cast<double>(s.free)) * s.weight;
}

}  // namespace

FleetView fleet_view(const Config& config, const std::vector<PollOutcome>& outcomes,
    const std::vector<BackendRound>& shown, const DrainSet& drains, std::int64_t round_ms)
{
    FleetView v;
    v.round_ms = round_ms;
    v.backends.reserve(config.backends.size());
    for (size_t i = 0; i < config.backends.size(); ++i) {
        FleetBackend b = configured(config.backends[i]);
        const BackendRound& r = shown[i];
        b.polled_ms = r.polled_ms;
        b.poll_seconds = outcomes[i].seconds;
        b.weight = r.weight;
        if (auto d = drains.backends.find(b.name); d != drains.backends.end()) {
            b.drained = true;
            b.note = d->second;
        }
        if (r.health == TUNE_HEALTH_UP || r.health == TUNE_HEALTH_DRAINING) {
            b.health = r.health == TUNE_HEALTH_UP ? "up" : "draining";
            b.listeners = r.server.listeners;
            b.capacity = r.server.capacity;
        } else if (r.polled_ms != 0) {
            b.health = "down";
            b.reason = r.reason;
        }
        v.backends.push_back(std::move(b));
    }

    v.streams.reserve(config.streams.size());
    for (const StreamConfig& s : config.streams) {
        FleetStream fs;
        fs.name = s.name;
        for (size_t i = 0; i < config.backends.size(); ++i) {
            const SlotState st = slot_state(s, shown[i]);
            FleetSlot slot;
            slot.backend = config.backends[i].name;
            slot.health = tune_health_name(st.health);
            slot.listeners = st.stats.listeners;
            slot.capacity = st.stats.capacity;
            slot.free = st.stats.free;
            slot.weight = shown[i].weight;
            slot.configured_weight = config.backends[i].weight;
            slot.region = config.backends[i].region;
            slot.url = i < s.urls.size() ? s.urls[i] : std::string();
            slot.offered = st.health == TUNE_HEALTH_UP && slot.free != 0 && slot.weight != 0;
            fs.listeners += slot.listeners;
            fs.slots.push_back(std::move(slot));
        }
        std::stable_sort(fs.slots.begin(), fs.slots.end(), [](const FleetSlot& a, const FleetSlot& b) {
            if (a.offered != b.offered)
                return a.offered;
            return a.offered && pull(a) > pull(b);
        });
        v.streams.push_back(std::move(fs));
    }
    return v;
}

FleetView fleet_view_unpolled(const Config& config)
{
    FleetView v;
    for (const BackendConfig& b : config.backends)
        v.backends.push_back(configured(b));
    for (const StreamConfig& s : config.streams)
        v.streams.push_back({s.name, {}, 0});
    return v;
}

}  // namespace tuneslot
