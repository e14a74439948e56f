#pragma once

// Parsers of backend status documents.  Pure functions of the body: no I/O,
// no logging, no state, so the unit tests drive them with literal text.
//
// Every format maps a mount ("/demo"; SHOUTcast: the stream's path) to its
// listeners, capacity and free slots; a mount without a source is left out.
// Formats that also report server-wide figures (SHOUTcast 2, Wowza) fill
// server.  TUNE_UNLIMITED (core) stands for "no limit" in capacity and
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

// nginx-rtmp-module's /stat page (rtmp_stat all, or rtmp_stat live):
// <rtmp><server><application><name>APP</name><live><stream> with <name>,
// <nclients> and, while a publisher is connected, <publishing/>.  Each
// stream is mount "/APP/NAME"; a stream without <publishing/> has no source.
// nclients counts every session of the stream, its publisher too, so
// listeners = nclients - publishers, where publishers are the <client>
// elements with <publishing/> (rtmp_stat all lists every session as a
// <client>, and then their number must be nclients) or, when there are no
// <client> elements, 1 for a stream with <publishing/>.  <play> sections
// (files played on demand) are not read.  nginx-rtmp has no listener limit:
// capacity and free are unlimited, and the backend's max_listeners
// (required with this format) sets them.  Several <server> blocks and
// applications are read alike; a mount seen twice (the same application
// name in two servers) fails the document, as it is ambiguous.  A stream
// with an empty name is skipped; control bytes read as spaces (the module
// copies them from the publisher's stream name).
ParseResult parse_nginx_rtmp(std::string_view body);

// Wowza Streaming Engine's /connectioncounts (HTTP provider
// HTTPConnectionCountsXML), root <WowzaStreamingEngine> (or
// <WowzaMediaServer>, before version 4), in either shape:
//
//   nested: <VHost> with <ConnectionsCurrent>, <ConnectionsLimit>, and
//           <Application><Name/><ApplicationInstance><Name/><Stream><Name/>
//           <SessionsFlash/>...<SessionsTotal/></Stream>;
//   ?flat:  <Stream applicationName= appInstanceName= streamName=
//           sessionsFlash= ... sessionsTotal=/> rows.
//
// A stream is mount "/APP/STREAM" in the default instance (_definst_, or an
// empty instance name) and "/APP/INSTANCE/STREAM" in any other.  Its
// listeners are SessionsTotal or, when that is absent, the sum of the
// Flash, Cupertino, SanJose, Smooth, RTSP and MPEGDash counts present.
// Wowza lists a stream while it is published or played and does not say
// which: every listed stream counts as having a source; one not listed has
// none.  Per stream capacity and free are unlimited (max_listeners caps
// them); the nested shape's VHost <ConnectionsLimit> (0: none) and
// <ConnectionsCurrent> are the server-wide figures, summed over VHosts (any
// unlimited VHost makes the server unlimited).  The flat shape has no
// limit.  A mount seen twice fails the document.
ParseResult parse_wowza(std::string_view body);

// MediaMTX's control API GET /v3/paths/list: {"pageCount": P, "itemCount":
// N, "items": [{"name": "PATH", "source": {...} or null, "ready": bool,
// "readers": [...]}, ...]}.  Each path is mount "/PATH" with as many
// listeners as elements in "readers"; a path that is not ready or has no
// source is left out.  MediaMTX has no listener limit: capacity and free
// are unlimited and the backend's max_listeners (required with this format)
// sets them.  The list is paged (itemsPerPage, 100 by default): a document
// with pageCount > 1, or an itemCount above the paths it holds, fails with
// a message asking for ?itemsPerPage= in the status URL, rather than
// calling the paths of the other pages "no source".
ParseResult parse_mediamtx(std::string_view body);

// The mount a v1 SHOUTcast server's one stream is reported as.
inline constexpr std::string_view shoutcast1_mount = "/";

// Parses a count: optional surrounding whitespace, then 0..4294967294 in
// plain decimal.  On failure why says what is wrong.
bool parse_count(std::string_view text, std::uint32_t& value, std::string& why);

}  // namespace tuneslot
