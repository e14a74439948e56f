#pragma once

// `tuneslotd ctl`: the operator's commands against a running deployment,
// through Redis (the daemons need not be reachable otherwise):
//
//     tuneslotd ctl -c FILE drain BACKEND [--mount /m] [--note TEXT]
//     tuneslotd ctl -c FILE undrain BACKEND [--mount /m]
//     tuneslotd ctl -c FILE status
//
// drain and undrain edit the {tuneslot:v1}:drain hash, which the writing
// tuneslotd reads every round; status prints the current snapshot (backends
// with their health and reasons, slots with counts, weight and draining),
// the drain hash and the lease holder.

#include <string>
#include <vector>

namespace tuneslot {

// args: what follows "ctl" on the command line.  Prints to stdout (results)
// and stderr (errors); returns the exit status: 0, 1 on a failure, 2 on a
// bad command line.
int run_ctl(const std::vector<std::string>& args);

}  // namespace tuneslot
