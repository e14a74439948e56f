#pragma once

// The operator's limits over what a backend reports.  Status pages say what
// the streaming server allows; the operator may allow less (bandwidth,
// a server whose limits are not in its status page, Icecast's hidden
// max_listeners).  Pure: unit-tested with literal tables.

#include "status_parsers.h"

#include <cstdint>

namespace tuneslot {

// Caps each mount and the server as a whole:
//
//   capacity(mount) = min(reported capacity, max_listeners)
//   free(mount)     = min(reported free, capacity(mount) - listeners(mount),
//                         server capacity - server listeners)
//
// where the server capacity is min(the server-wide capacity the format
// reports, max_clients), and server listeners are the server-wide count the
// format reports or, when it reports none, the sum over the reported
// mounts.  TUNE_UNLIMITED in either limit means no limit.  Listeners are
// never changed; free is never negative.  Returns the server as a whole as
// limited: its listeners and its capacity (TUNE_UNLIMITED: none known).
ServerStats apply_limits(ParseResult& result, std::uint32_t max_listeners, std::uint32_t max_clients);

}  // namespace tuneslot
