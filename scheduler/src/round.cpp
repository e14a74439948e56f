#include "round.h"

#include "text.h"

namespace tuneslot {

BackendRound evaluate(const BackendConfig& backend, const PollOutcome& outcome)
{
    BackendRound r;
    r.polled_ms = outcome.polled_ms;
    r.weight = backend.weight;
    if (!outcome.ok) {
        r.reason = printable(outcome.reason, TUNE_REASON_MAX);
        return r;
    }
    ParseResult parsed = backend.format == StatusFormat::icecast_admin ? parse_icecast_admin(outcome.body)
                                                                       : parse_load_xsl(outcome.body);
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
