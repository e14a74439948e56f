#pragma once

// Parsers of backend status documents.  Pure functions of the body: no I/O,
// no logging, no state, so the unit tests drive them with literal text.
//
// Both formats map an Icecast mount ("/demo") to its listeners, capacity and
// free slots.  TUNE_UNLIMITED (core) stands for "no limit" in capacity and
// free.  Counts must be plain decimal 0..4294967294; anything else
// (negative, fractional, exponent, too large, empty) fails the whole poll,
// because a backend that reports nonsense cannot be trusted with listeners.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace tuneslot {

struct MountStats {
    std::uint32_t listeners = 0;
    std::uint32_t capacity = 0;     // TUNE_UNLIMITED: no limit
    std::uint32_t free = 0;         // capacity - listeners, never negative
};

using MountTable = std::map<std::string, MountStats, std::less<>>;

struct ParseResult {
    bool ok = false;
    std::string error;              // when !ok: what is wrong, for "parse: ..."
    MountTable mounts;
};

// <load><mount name="/x" listeners="L" max="M">N</mount>...</load>
//
// N is the number of free slots or "unlimited"; listeners and max are
// optional (tuneslot's own scheduler/load.xsl writes both; the classic form
// has neither).  What is unknown is derived:
//
//   listeners and max:  capacity = M, free = M - L (at least 0)
//   listeners only:     capacity = L + N, free = N
//   max only:           capacity = M, free = N, listeners = M - N
//   neither (classic):  listeners = 0, capacity = free = N
//
// "unlimited" as M or N makes capacity and free unlimited.
ParseResult parse_load_xsl(std::string_view body);

// Icecast 2.4 /admin/stats: <icestats><source mount="/x"> with children
// <listeners>L</listeners> and <max_listeners>M</max_listeners>, M a number
// or "unlimited".  Both children are required.
ParseResult parse_icecast_admin(std::string_view body);

// Parses a count: optional surrounding whitespace, then 0..4294967294 in
// plain decimal.  On failure why says what is wrong.
bool parse_count(std::string_view text, std::uint32_t& value, std::string& why);

}  // namespace tuneslot
