#include "round.h"

#include "load_limits.h"
#include "text.h"

namespace tuneslot {

ParseResult parse_status(StatusFormat format, std::string_view body)
{
    switch (format) {
    case StatusFormat::load_xsl: return parse_load_xsl(body);
    case StatusFormat::icecast_admin: return parse_icecast_admin(body);
    case StatusFormat::icecast_json: return parse_icecast_json(body);
    case StatusFormat::shoutcast1: return parse_shoutcast1(body);
    case StatusFormat::shoutcast2: return parse_shoutcast2(body);
    case StatusFormat::nginx_rtmp: return parse_nginx_rtmp(body);
    case StatusFormat::wowza: return parse_wowza(body);
    case StatusFormat::mediamtx: return parse_mediamtx(body);
    }
    ParseResult r;
    r.error = "unknown format";
    return r;
}

BackendRound evaluate(const BackendConfig& backend, const PollOutcome& outcome)
{
    BackendRound r;
    r.polled_ms = outcome.polled_ms;
    r.weight = backend.weight;
    if (!outcome.ok) {
        r.reason = printable(outcome.reason, TUNE_REASON_MAX);
        return r;
    }
    ParseResult parsed = parse_status(backend.format, outcome.body);
    if (parsed.ok)
        r.server = apply_limits(parsed, backend.max_listeners, backend.max_clients);
    if (!parsed.ok) {
        r.reason = printable(cat("parse: ", parsed.error), TUNE_REASON_MAX);
        return r;
    }
    r.health = TUNE_HEALTH_UP;
    r.mounts = std::move(parsed.mounts);
    return r;
}

SlotState slot_state(const StreamConfig& stream, const BackendRound& backend)
{
    SlotState s;
    if (backend.health != TUNE_HEALTH_UP && backend.health != TUNE_HEALTH_DRAINING)
        return s;
    auto it = backend.mounts.find(stream.mount);
    if (it == backend.mounts.end()) {
        s.health = TUNE_HEALTH_NOSOURCE;
        return s;
    }
    const bool drained = backend.health == TUNE_HEALTH_DRAINING || backend.drained_mounts.contains(stream.mount);
    s.health = drained ? TUNE_HEALTH_DRAINING : TUNE_HEALTH_UP;
    s.stats = it->second;
    return s;
}

}  // namespace tuneslot
