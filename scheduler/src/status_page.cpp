#include "status_page.h"

#include "status_html.h"   // generated at build time from status/status.html
#include "text.h"

#include <tune_snapshot.h>

namespace tuneslot {

namespace {

std::string text_or_null(const std::string& s)
{
    return s.empty() ? std::string("null") : json_quote(s);
}

}  // namespace

std::string fleet_json(const FleetView& view)
{
    std::uint64_t listeners = 0, capacity = 0;
    bool unlimited = false;
    unsigned up = 0;
    for (const FleetBackend& b : view.backends) {
        if (b.health != "up" && b.health != "draining")
            continue;
        ++up;
        listeners += b.listeners;
        if (b.capacity == TUNE_UNLIMITED)
            unlimited = true;
        else
            capacity += b.capacity;
    }

    std::string out = cat("\"round_ms\":", view.round_ms, ",\"fleet\":{\"listeners\":", listeners, ",\"capacity\":",
        unlimited || up == 0 ? std::string("null") : cat(capacity), ",\"backends_up\":", up,
        ",\"backends\":", view.backends.size(), "},\"backends\":[");
    for (size_t i = 0; i < view.backends.size(); ++i) {
        const FleetBackend& b = view.backends[i];
        out += cat(i ? "," : "", "{\"name\":", json_quote(b.name), ",\"region\":", text_or_null(b.region),
            ",\"format\":", json_quote(b.format), ",\"health\":", json_quote(b.health),
            ",\"reason\":", text_or_null(b.reason), ",\"drained\":", b.drained ? "true" : "false",
            ",\"note\":", text_or_null(b.note),
            ",\"listeners\":", b.listeners, ",\"capacity\":", json_count(b.capacity),
            ",\"weight\":", b.weight, ",\"configured_weight\":", b.configured_weight,
            ",\"polled_ms\":", b.polled_ms, ",\"poll_seconds\":", cat(static_cast<long long>(b.poll_seconds * 1e6)),
            "e-6}");
    }
    out += "],\"streams\":[";
    for (size_t i = 0; i < view.streams.size(); ++i) {
        const FleetStream& s = view.streams[i];
        out += cat(i ? "," : "", "{\"name\":", json_quote(s.name), ",\"listeners\":", s.listeners, ",\"slots\":[");
        for (size_t k = 0; k < s.slots.size(); ++k) {
            const FleetSlot& x = s.slots[k];
            out += cat(k ? "," : "", "{\"backend\":", json_quote(x.backend), ",\"health\":", json_quote(x.health),
                ",\"listeners\":", x.listeners, ",\"capacity\":", json_count(x.capacity),
                ",\"free\":", json_count(x.free), ",\"weight\":", x.weight,
                ",\"configured_weight\":", x.configured_weight, ",\"region\":", text_or_null(x.region),
                ",\"url\":", json_quote(x.url), ",\"offered\":", x.offered ? "true" : "false", "}");
        }
        out += "]}";
    }
    out += "]";
    return out;
}

std::string status_json(std::string_view fleet, const DaemonFacts& facts)
{
    std::string out = cat("{\"now_ms\":", facts.now_ms, ",\"instance\":", json_quote(facts.instance),
        ",\"version\":", json_quote(facts.version), ",\"interval_ms\":", facts.interval_ms,
        ",\"leader\":{\"this\":", facts.leader ? "true" : "false", ",\"holder\":", text_or_null(facts.holder),
        "},\"standbys\":[");
    for (size_t i = 0; i < facts.standbys.size(); ++i)
        out += cat(i ? "," : "", json_quote(facts.standbys[i]));
    out += cat("],\"redis\":{\"address\":", json_quote(facts.redis), ",\"up\":", facts.redis_up ? "true" : "false",
        "},\"snapshot\":{\"generation\":", facts.generation ? cat(*facts.generation) : std::string("null"),
        ",\"written_ms\":", facts.written_ms ? cat(facts.written_ms) : std::string("null"),
        "},\"admin\":", facts.admin ? "true" : "false", ",");
    out.reserve(out.size() + fleet.size() + 2);
    out += fleet;
    out += "}\n";
    return out;
}

std::string_view status_html()
{
    return generated::status_html;
}

}  // namespace tuneslot
