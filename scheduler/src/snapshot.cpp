#include "snapshot.h"

#include "text.h"

#include <vector>

namespace tuneslot {

namespace {

// Appends one line made by a core formatter (snprintf-like: returns the
// length it needs, 0 when a field breaks the schema).  False on 0.
template <class Format>
bool append_line(std::string& text, Format&& format)
{
    char small[1024];
    size_t n = format(small, sizeof small);
    if (n == 0)
        return false;
    if (n < sizeof small) {
        text.append(small, n);
        return true;
    }
    std::vector<char> big(n + 1);
    size_t m = format(big.data(), big.size());
    if (m == 0 || m >= big.size())
        return false;
    text.append(big.data(), m);
    return true;
}

}  // namespace

std::string format_snapshot(const Config& config, const std::vector<BackendRound>& backends,
    std::int64_t written_ms, std::vector<std::string>& problems)
{
    std::string text;
    const auto interval_ms = static_cast<std::uint32_t>(config.interval.count());
    if (!append_line(text, [&](char* out, size_t cap) {
            return tune_snapshot_format_header(out, cap, written_ms, interval_ms);
        }))
        problems.push_back("header line refused by core");

    for (size_t i = 0; i < config.backends.size(); ++i) {
        const BackendConfig& b = config.backends[i];
        const BackendRound& r = backends[i];
        tune_backend_fields_t f{};
        f.name = b.name.data();
        f.name_len = b.name.size();
        f.health = r.health;
        f.polled_ms = r.polled_ms;
        f.reason = r.reason.data();
        f.reason_len = r.reason.size();
        tune_rc_t rc = TUNE_OK;
        if (!append_line(text, [&](char* out, size_t cap) { return tune_snapshot_format_backend(out, cap, &f, &rc); }))
            problems.push_back(cat("backend ", b.name, ": line refused by core: ", tune_rc_reason(rc)));
    }

    for (const StreamConfig& s : config.streams) {
        for (size_t i = 0; i < config.backends.size(); ++i) {
            const BackendConfig& b = config.backends[i];
            const SlotState slot = slot_state(s, backends[i]);
            tune_slot_fields_t f{};
            f.stream = s.name.data();
            f.stream_len = s.name.size();
            f.backend = b.name.data();
            f.backend_len = b.name.size();
            f.health = slot.health;
            f.listeners = slot.stats.listeners;
            f.capacity = slot.stats.capacity;
            f.free = slot.stats.free;
            f.weight = backends[i].weight;
            f.region = b.region.data();
            f.region_len = b.region.size();
            f.polled_ms = backends[i].polled_ms;
            f.url = s.urls[i].data();
            f.url_len = s.urls[i].size();
            tune_rc_t rc = TUNE_OK;
            if (!append_line(text, [&](char* out, size_t cap) { return tune_snapshot_format_slot(out, cap, &f, &rc); }))
                problems.push_back(cat("slot ", s.name, " on ", b.name, ": line refused by core: ", tune_rc_reason(rc)));
        }
    }

    if (!append_line(text, [](char* out, size_t cap) { return tune_snapshot_format_end(out, cap); }))
        problems.push_back("end line refused by core");
    return text;
}

}  // namespace tuneslot
