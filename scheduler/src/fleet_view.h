#pragma once

// The fleet as the last round left it, for the people and programs that ask
// the daemon (the status page, GET /place): every backend with its health
// and why, its counts as a whole, its last poll; every stream with its slots
// in the order a listener would be sent.  Made once per round from what the
// round already worked out; plain data, so the answers built from it are
// pure functions.

#include "config.h"
#include "drain.h"
#include "poller.h"
#include "round.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tuneslot {

struct FleetBackend {
    std::string name;
    std::string region;             // "" when none configured
    std::string format;             // the status format polled ("load-xsl")
    // "up", "down", "draining" (drained as a whole) or "unpolled"
    std::string health;
    std::string reason;             // down: why
    bool drained = false;           // the operator drains it as a whole (up or not)
    std::string note;               // drained: the operator's note
    std::uint32_t listeners = 0;    // the server as a whole (up, draining)
    std::uint32_t capacity = 0;     // TUNE_UNLIMITED: no limit known
    std::uint32_t weight = 0;       // as written; below configured_weight in slow start
    std::uint32_t configured_weight = 0;
    std::int64_t polled_ms = 0;     // the last poll's end (0: never)
    double poll_seconds = 0;        // how long it took
};

struct FleetSlot {
    std::string backend;
    std::string health;             // up, down, nosource, draining
    std::uint32_t listeners = 0;
    std::uint32_t capacity = 0;     // TUNE_UNLIMITED: unlimited
    std::uint32_t free = 0;         // TUNE_UNLIMITED: unlimited
    std::uint32_t weight = 0;
    std::uint32_t configured_weight = 0;
    std::string region;
    std::string url;
    bool offered = false;           // up, with room and weight: a listener may be sent there
};

struct FleetStream {
    std::string name;
    // the offered slots first, most likely first (free slots times weight,
    // as the front-ends weigh them), then the others in configuration order
    std::vector<FleetSlot> slots;
    std::uint64_t listeners = 0;    // over all its slots
};

struct FleetView {
    std::int64_t round_ms = 0;      // when the round was judged (0: no round yet)
    std::vector<FleetBackend> backends;     // in configuration order
    std::vector<FleetStream> streams;       // in configuration order
};

// The view of a round: outcomes[i] and shown[i] (after health and drains)
// belong to config.backends[i]; drains are the operator's, read this round.
FleetView fleet_view(const Config& config, const std::vector<PollOutcome>& outcomes,
    const std::vector<BackendRound>& shown, const DrainSet& drains, std::int64_t round_ms);

// Before the first round: every backend configured, none polled yet.
FleetView fleet_view_unpolled(const Config& config);

}  // namespace tuneslot
