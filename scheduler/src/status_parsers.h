#pragma once

// Parsers of backend status documents.  Pure functions of the body: no I/O,
// no logging, no state, so the unit tests drive them with literal text.
//
// Every format maps a mount ("/demo"; SHOUTcast: the stream's path) to its
// listeners, capacity and free slots; a mount without a source is left out.
// Formats that also report server-wide figures (SHOUTcast 2) fill server.  TUNE_UNLIMITED (core) stands for "no limit" in capacity and
// free.  Counts must be plain decimal 0..4294967294; anything else
// (negative, fractional, exponent, too large, empty) fails the whole poll,
// because a backend that reports nonsense cannot be trusted with listeners.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tuneslot {

struct MountStats {
    std::uint32_t listeners = 0;
    std::uint32_t capacity = 0;     // TUNE_UNLIMITED: no limit
    std::uint32_t free = 0;         // capacity - listeners, never negative
};

using MountTable = std::map<std::string, MountStats, std::less<>>;

// Listeners and capacity of the whole server, all mounts together.
struct ServerStats {
    std::uint32_t listeners = 0;
    std::uint32_t capacity = 0;     // TUNE_UNLIMITED: no limit
};

struct ParseResult {
    bool ok = false;
    std::string error;              // when !ok: what is wrong, for "parse: ..."
    MountTable mounts;
    std::optional<ServerStats> server;
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

// Icecast's public /status-json.xsl: {"icestats": {"source": S}} where S is
// an object for one mount, an array for several, and absent for none.  A
// mount is named by the path of its "listenurl"; "listeners" is its count.
// Icecast hides max_listeners there, so capacity and free are unlimited: the
// backend's max_listeners (required with this format) sets them.  Control
// characters other than TAB, LF and CR read as spaces: Icecast 2.4.4 leaves
// them unescaped in titles.
ParseResult parse_icecast_json(std::string_view body);

// SHOUTcast DNAS 2 /statistics?json=1: server-wide "currentlisteners" and
// "maxlisteners", and "streams", an array with per stream "streampath",
// "currentlisteners", "maxlisteners" and "streamstatus" (0: no source, the
// stream is left out).  Counts may be JSON numbers or decimal strings.
ParseResult parse_shoutcast2(std::string_view body);

// SHOUTcast DNAS 1 /admin.cgi?mode=viewxml: <SHOUTCASTSERVER> with
// <CURRENTLISTENERS>, <MAXLISTENERS> and <STREAMSTATUS> (0: no source).  A
// v1 server has one stream, reported as mount "/".  v1 servers write song
// titles in whatever encoding the source sent, without declaring it, so the
// document is read as ISO-8859-1 (every byte is valid; the counts are ASCII).
ParseResult parse_shoutcast1(std::string_view body);

// The mount a v1 SHOUTcast server's one stream is reported as.
inline constexpr std::string_view shoutcast1_mount = "/";

// Parses a count: optional surrounding whitespace, then 0..4294967294 in
// plain decimal.  On failure why says what is wrong.
bool parse_count(std::string_view text, std::uint32_t& value, std::string& why);

}  // namespace tuneslot
