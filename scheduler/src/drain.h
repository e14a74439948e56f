#pragma once

// Draining at run time: the operator's list of backends and slots that get
// no new listeners, kept in Redis as the hash {tuneslot:v1}:drain
// (redis/SCHEMA.md) and written by `tuneslotd ctl drain` or by hand.
//
//     field  "ice-a"        the whole backend
//            "ice-a/demo"   one mount on it: the backend's name immediately
//                           followed by the Icecast mount ("/demo")
//     value  the operator's note (free text; shown, never interpreted)
//
// The writing instance reads the hash every round and marks what it names
// `draining` in the snapshot.  A drained slot keeps its counts: its
// listeners are still there.  A down backend stays down: draining never
// makes a slot look better than it is.  Single-threaded, main loop only.

#include "config.h"
#include "round.h"

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tuneslot {

struct DrainSet {
    std::map<std::string, std::string> backends;                       // name -> note
    std::map<std::pair<std::string, std::string>, std::string> mounts;  // (name, mount) -> note

    bool operator==(const DrainSet&) const = default;
};

// The hash field for a backend, or for a mount on it (mount "" = backend).
std::string drain_field(std::string_view backend, std::string_view mount);

// Why an operator's drain (or undrain, note "") cannot be written: a
// backend the configuration does not have, a mount no stream of it uses, a
// note that is not printable ASCII or is longer than the 160 bytes a drain
// keeps; "" when it can.
// Said to `tuneslotd ctl` and to the status page alike.
std::string check_drain_request(const Config& config, std::string_view backend, std::string_view mount,
    std::string_view note);

// DrainSet from HGETALL's field/value pairs.  Fields that name no backend of
// the config, or a mount no stream uses, are listed in ignored.
DrainSet parse_drains(const Config& config, const std::vector<std::pair<std::string, std::string>>& pairs,
    std::vector<std::string>& ignored);

// Marks rounds (rounds[i] belongs to config.backends[i]) as drains says.
void apply_drains(const Config& config, const DrainSet& drains, std::vector<BackendRound>& rounds);

// Logs what changed between two sets: one line per backend or mount that
// started or stopped draining.
void log_drain_changes(const DrainSet& before, const DrainSet& now);

}  // namespace tuneslot
