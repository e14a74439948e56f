// libFuzzer target: the drain hash ({tuneslot:v1}:drain) as tuneslotd reads
// it from Redis every round, where anyone who may write Redis may put any
// fields and values (drain.h).
//
// The input is a list of field/value pairs, each a length byte and its
// bytes.  They go through parse_drains(), apply_drains() on a round in
// which every backend is up, and format_snapshot(), as the daemon does,
// and the snapshot is decoded as a front-end would.  Besides "no crash" it
// checks: every pair is taken or ignored, by the rule of drain.h (a known
// backend, then nothing or a configured mount); a note is printable() text
// of at most 160 bytes; no drain, however hostile, makes core refuse a line
// of the round or a front-end refuse the snapshot; and exactly the drained
// backends and slots are "draining" in it, with their notes as reasons.

#include "config.h"
#include "drain.h"
#include "round.h"
#include "snapshot.h"
#include "text.h"

#include <tune_snapshot.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

constexpr std::string_view config_text = R"(
[[backend]]
name = "ice-a"
status = "http://127.0.0.1:8000/load.xsl"
public = "http://a.example.net:8000"

[[backend]]
name = "ice-b"
status = "http://127.0.0.1:8001/load.xsl"
public = "https://b.example.net/radio/"

[[backend]]
name = "ice.c_d-1"
status = "http://127.0.0.1:8002/load.xsl"
public = "http://c.example.net"

[[stream]]
name = "demo"
mount = "/demo"

[[stream]]
name = "jazz"
mount = "/jazz/hq.mp3"
)";

constexpr std::int64_t written_ms = 1763712000123;

const tuneslot::Config& config()
{
    static const std::shared_ptr<const tuneslot::Config> c = [] {
        tuneslot::ConfigResult r = tuneslot::parse_config(config_text, "fuzz.toml");
        if (!r.config)
            std::abort();
        return r.config;
    }();
    return *c;
}

std::string_view field(const std::uint8_t*& p, std::size_t& left)
{
    std::size_t n = *p++;
    --left;
    if (n > left)
        n = left;
    std::string_view s(reinterpret_cast<const char*>(p), n);
    p += n;
    left -= n;
    return s;
}

const char* health_word(std::uint32_t h)
{
    return tune_health_name(static_cast<tune_health_t>(h));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const tuneslot::Config& c = config();

    std::vector<std::pair<std::string, std::string>> pairs;
    while (size > 0) {
        std::string_view f = field(data, size);
        std::string_view v = size > 0 ? field(data, size) : std::string_view();
        pairs.emplace_back(std::string(f), std::string(v));
    }

    std::vector<std::string> ignored;
    const tuneslot::DrainSet drains = tuneslot::parse_drains(c, pairs, ignored);

    // every pair taken or ignored, by drain.h's rule
    std::set<std::string> backends, mounts;
    for (const auto& b : c.backends)
        backends.insert(b.name);
    for (const auto& s : c.streams)
        mounts.insert(s.mount);
    std::size_t taken = 0;
    for (const auto& [f, v] : pairs) {
        const std::size_t slash = f.find('/');
        const std::string b = f.substr(0, slash);
        const std::string m = slash == std::string::npos ? std::string() : f.substr(slash);
        const bool known = backends.contains(b) && (m.empty() || mounts.contains(m));
        const bool in_set = m.empty() ? drains.backends.contains(b) : drains.mounts.contains({b, m});
        if (known != in_set)
            std::abort();
        taken += known;
    }
    if (drains.backends.size() + drains.mounts.size() > taken || taken + ignored.size() != pairs.size())
        std::abort();

    for (const auto& [name, note] : drains.backends)
        if (note.size() > 160 || tuneslot::printable(note, 160) != note)
            std::abort();
    for (const auto& [key, note] : drains.mounts)
        if (note.size() > 160 || tuneslot::printable(note, 160) != note)
            std::abort();

    // a round in which every backend is up and reports every mount
    std::vector<tuneslot::BackendRound> rounds(c.backends.size());
    for (auto& r : rounds) {
        r.health = TUNE_HEALTH_UP;
        r.polled_ms = written_ms - 20;
        r.weight = 100;
        for (const auto& s : c.streams)
            r.mounts[s.mount] = tuneslot::MountStats{1, 10, 9};
    }
    tuneslot::apply_drains(c, drains, rounds);

    std::vector<std::string> problems;
    const std::string text = tuneslot::format_snapshot(c, rounds, written_ms, problems);
    if (!problems.empty())
        std::abort();

    std::vector<std::uint64_t> buf(TUNE_IMAGE_SIZE_MAX(text.size()) / 8 + 1);
    tune_decode_err_t err;
    const std::size_t n = tune_snapshot_decode(text.data(), text.size(), 1, buf.data(), buf.size() * 8, &err);
    const tune_image_t* img = n ? tune_image_get(buf.data(), n) : nullptr;
    if (img == nullptr || img->nbackends != c.backends.size())
        std::abort();

    // what the front-ends see: exactly the drained backends and slots
    const tune_image_backend_t* ib = tune_image_backends(img);
    for (std::uint32_t i = 0; i < img->nbackends; ++i) {
        const std::string name(tune_image_str(img, ib[i].name), ib[i].name.len);
        const std::string_view reason(tune_image_str(img, ib[i].reason), ib[i].reason.len);
        auto it = drains.backends.find(name);
        const char* want = it != drains.backends.end() ? "draining" : "up";
        if (std::string_view(health_word(ib[i].health)) != want)
            std::abort();
        if (it != drains.backends.end() && reason != (it->second.empty() ? "drain" : "drain: " + it->second))
            std::abort();
    }
    const tune_image_slot_t* is = tune_image_slots(img);
    const tune_image_stream_t* st = tune_image_streams(img);
    for (std::uint32_t k = 0; k < img->nstreams; ++k) {
        const std::string_view sname(tune_image_str(img, st[k].name), st[k].name.len);
        std::string mount;
        for (const auto& s : c.streams)
            if (s.name == sname)
                mount = s.mount;
        for (std::uint32_t j = 0; j < st[k].nslots; ++j) {
            const tune_image_slot_t& s = is[st[k].first_slot + j];
            const std::string backend(tune_image_str(img, s.backend), s.backend.len);
            const bool drained = drains.backends.contains(backend) || drains.mounts.contains({backend, mount});
            if (std::string_view(health_word(s.health)) != (drained ? "draining" : "up"))
                std::abort();
        }
    }
    return 0;
}
