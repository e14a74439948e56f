#pragma once

// The snapshot text of one round (redis/SCHEMA.md), formatted line by line
// with core's tune_snapshot_format_*(): the header, one backend line per
// backend, one slot line per (stream, backend), in config order, and the
// end line that tells readers the text is whole.

#include "config.h"
#include "round.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tuneslot {

// backends[i] belongs to config.backends[i].  A record core refuses (which
// the config loader's checks should make impossible) is left out and
// described in problems.
std::string format_snapshot(const Config& config, const std::vector<BackendRound>& backends,
    std::int64_t written_ms, std::vector<std::string>& problems);

}  // namespace tuneslot
