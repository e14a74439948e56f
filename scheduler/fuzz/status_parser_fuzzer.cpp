// libFuzzer target for one status parser, chosen at build time:
// TUNESLOT_FUZZ_PARSER is parse_load_xsl, parse_icecast_admin,
// parse_icecast_json, parse_shoutcast1, parse_shoutcast2, parse_nginx_rtmp,
// parse_wowza or parse_mediamtx (see scheduler/fuzz/CMakeLists.txt).  One
// source, so the eight targets cannot drift apart.
//
// Besides "no crash, no leak, no undefined behaviour" (ASan, LSan, UBSan),
// it checks what every parser promises, before and after the operator's
// limits: a mount has a name, free never exceeds a finite capacity, and
// unlimited free slots only come with unlimited capacity.  With
// TUNESLOT_FUZZ_NO_LIMIT (nginx-rtmp, wowza, mediamtx: servers without a
// per-stream limit) every mount is a path ("/..."), reported with unlimited
// capacity and free slots until the operator's limits apply.

#include "load_limits.h"
#include "status_parsers.h"

#include <tune_snapshot.h>

#include <libxml/parser.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

void check(const tuneslot::ParseResult& r)
{
    if (!r.ok) {
        if (r.error.empty() || !r.mounts.empty())
            std::abort();
        return;
    }
    for (const auto& [mount, m] : r.mounts) {
        if (mount.empty())
            std::abort();
        if (m.capacity != TUNE_UNLIMITED && m.free > m.capacity)
            std::abort();
        if (m.free == TUNE_UNLIMITED && m.capacity != TUNE_UNLIMITED)
            std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    xmlInitParser();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::string_view body(reinterpret_cast<const char*>(data), size);
    tuneslot::ParseResult r = tuneslot::TUNESLOT_FUZZ_PARSER(body);
    check(r);
#ifdef TUNESLOT_FUZZ_NO_LIMIT
    for (const auto& [mount, m] : r.mounts)
        if (!mount.starts_with('/') || m.capacity != TUNE_UNLIMITED || m.free != TUNE_UNLIMITED)
            std::abort();
#endif
    if (r.ok) {
        // limits from the input itself, so the fuzzer explores them too
        std::uint32_t max_listeners = size > 0 ? data[0] : TUNE_UNLIMITED;
        std::uint32_t max_clients = size > 1 ? data[1] * 3u : TUNE_UNLIMITED;
        tuneslot::apply_limits(r, max_listeners, max_clients);
        check(r);
    }
    return 0;
}
