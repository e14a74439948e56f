#pragma once

// What one poll round found out about each backend: the outcome of its poll
// read through the parser of its format.

#include "config.h"
#include "poller.h"
#include "status_parsers.h"

#include <tune_snapshot.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tuneslot {

struct BackendRound {
    tune_health_t health = TUNE_HEALTH_DOWN;   // up or down
    std::string reason;                         // down: why ("timeout", "parse: ...")
    std::int64_t polled_ms = 0;
    MountTable mounts;                          // up: what the backend reported
};

// The body read by the parser of format (status_parsers.h).
ParseResult parse_status(StatusFormat format, std::string_view body);

// A poll's outcome judged by the backend's format, with the backend's
// max_listeners and max_clients applied (load_limits.h).
BackendRound evaluate(const BackendConfig& backend, const PollOutcome& outcome);

// The stream's slot on a backend: health and counts.
struct SlotState {
    tune_health_t health = TUNE_HEALTH_DOWN;
    MountStats stats;                           // zero unless up
};

SlotState slot_state(const StreamConfig& stream, const BackendRound& backend);

}  // namespace tuneslot
