#pragma once

// The status page of tuneslotd's HTTP listener: GET / (or /status) is one
// self-contained HTML page (scheduler/status/status.html, embedded at build
// time: no CDN, no font or script from anywhere else) that draws itself from
// GET /status.json every 2 s and GET /history.json (ListenerHistory) every
// 10 s.  This is the document of /status.json: the fleet as the last round
// left it and the daemon's own state.  Pure.

#include "fleet_view.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tuneslot {

// What the daemon knows of itself besides the fleet.
struct DaemonFacts {
    std::string instance;               // this instance's id
    std::string version;
    bool leader = false;                // this instance writes the rounds
    std::string holder;                 // the lease's value when another instance holds it
    std::vector<std::string> standbys;  // other instances seen lately, not writing
    std::string redis;                  // the address, as configured
    bool redis_up = false;
    std::optional<long long> generation;    // the snapshot's, last known
    std::int64_t written_ms = 0;        // when this instance wrote it (0: another did)
    std::int64_t interval_ms = 0;
    std::int64_t now_ms = 0;
    bool admin = false;                 // drains from the page (admin_token)
};

// The part of /status.json a round decides ("round_ms", "fleet",
// "backends", "streams": members without the braces), made once a round
// however often the page is asked for
std::string fleet_json(const FleetView& view);

// /status.json: the daemon's facts now, and fleet_json() of the last round
std::string status_json(std::string_view fleet, const DaemonFacts& facts);

// The page itself.
std::string_view status_html();

}  // namespace tuneslot
