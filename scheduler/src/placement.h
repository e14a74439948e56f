#pragma once

// Where a new station fits best ("API clustering", as Centova calls it):
// the backends ordered by the listener slots they would have to spare after
// taking a station of N listeners, those of a region first, with the numbers
// behind each rank; the ones left out, each with why; and, when none is
// left, why not.  Answered by GET /place on the daemon's HTTP listener and
// by `tuneslotd ctl place` (which asks it).  Pure: no I/O, unit-tested with
// literal fleets.

#include "fleet_view.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tuneslot {

struct PlaceQuery {
    std::uint32_t listeners = 0;        // the new station's
    std::string region;                 // "": no preference
    bool text = false;                  // the answer as text, not JSON
};

// "listeners=N&region=R&format=text|json", every word optional, none
// twice; nullopt with why set for anything else (answered 400).
std::optional<PlaceQuery> parse_place_query(std::string_view query, std::string& why);

struct PlaceRank {
    std::string name;
    std::string region;
    bool in_region = false;
    std::uint32_t listeners = 0;
    std::uint32_t capacity = 0;         // TUNE_UNLIMITED: no limit known
    std::uint64_t spare_after = 0;      // capacity - listeners - N; unknown: 0
};

struct PlaceLeftOut {
    std::string name;
    std::string why;
};

struct PlaceAnswer {
    std::vector<PlaceRank> ranks;       // best first
    std::vector<PlaceLeftOut> left_out; // in configuration order
    std::string empty_because;          // when ranks is empty
};

// The ranks of fleet (FleetView::backends): up (not down, not drained as a
// whole, polled at least once, a weight above 0)
// and with room for N more; those of the region first, then by spare slots
// after N, most first; a backend whose capacity is not known (no
// max_clients, and its status page tells none) after every one whose is,
// as its room cannot be compared; then by name.  A region no backend has
// is an empty answer that says so, rather than a silent fallback.
PlaceAnswer place(const std::vector<FleetBackend>& fleet, const PlaceQuery& query);

// The answer as JSON (one object) and as text (lines for a person).
std::string place_json(const PlaceAnswer& answer, const PlaceQuery& query);
std::string place_text(const PlaceAnswer& answer, const PlaceQuery& query);

}  // namespace tuneslot
