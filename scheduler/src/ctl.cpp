#include "ctl.h"

#include "config.h"
#include "contract.h"
#include "drain.h"
#include "redis_writer.h"
#include "text.h"

#include <cstdio>
#include <ctime>
#include <string_view>

namespace tuneslot {

namespace {

using namespace std::chrono_literals;

using contract::key_drain;
using contract::key_generation;
using contract::key_leader;
using contract::key_snapshot;

constexpr std::string_view usage =
    "usage: tuneslotd ctl -c FILE drain BACKEND [--mount /m] [--note TEXT]\n"
    "       tuneslotd ctl -c FILE undrain BACKEND [--mount /m]\n"
    "       tuneslotd ctl -c FILE status\n";

int bad_usage(std::string_view why)
{
    std::fprintf(stderr, "tuneslotd ctl: %.*s\n%.*s", static_cast<int>(why.size()), why.data(),
        static_cast<int>(usage.size()), usage.data());
    return 2;
}

int fail(std::string_view why)
{
    std::fprintf(stderr, "tuneslotd ctl: %.*s\n", static_cast<int>(why.size()), why.data());
    return 1;
}

void out(std::string_view line)
{
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
}

std::vector<std::string_view> split(std::string_view s, char sep)
{
    std::vector<std::string_view> parts;
    for (;;) {
        size_t at = s.find(sep);
        parts.push_back(s.substr(0, at));
        if (at == std::string_view::npos)
            return parts;
        s = s.substr(at + 1);
    }
}

std::string utc(std::string_view ms_text)
{
    long long ms = std::atoll(std::string(ms_text).c_str());
    if (ms <= 0)
        return "never";
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm t{};
    gmtime_r(&secs, &t);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
    return cat(buf, ".", ms % 1000 / 100, ms % 100 / 10, ms % 10, "Z");
}

std::string string_reply(const redisReply* r)
{
    return r != nullptr && r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : std::string();
}

int status(RedisWriter& redis)
{
    std::string why;
    RedisReplyPtr r = redis.call({"MGET", key_generation, key_snapshot, key_leader}, why);
    if (!r)
        return fail(cat("redis: ", why));
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        return fail("redis: unexpected reply to MGET");
    const std::string generation = string_reply(r->element[0]);
    const std::string text = string_reply(r->element[1]);
    const std::string leader = string_reply(r->element[2]);
    out(cat("leader: ", leader.empty() ? std::string("none") : leader));
    if (text.empty()) {
        out("snapshot: none written yet");
        return 0;
    }
    std::string written;
    std::string interval;
    std::vector<std::string> backends;
    std::vector<std::string> slots;
    for (std::string_view line : split(text, '\n')) {
        std::vector<std::string_view> f = split(line, '\t');
        if (f[0] == "written_ms" && f.size() > 1)
            written = utc(f[1]);
        else if (f[0] == "interval_ms" && f.size() > 1)
            interval = f[1];
        else if (f[0] == "backend" && f.size() >= 4)
            backends.push_back(cat("  ", f[1], "  ", f[2], "  polled ", utc(f[3]),
                f.size() > 4 && !f[4].empty() ? cat("  reason: ", f[4]) : std::string()));
        else if (f[0] == "slot" && f.size() >= 11)
            slots.push_back(cat("  ", f[1], " on ", f[2], "  ", f[3], "  listeners ", f[4], "  capacity ", f[5],
                "  free ", f[6], "  weight ", f[7], "  ", f[10]));
    }
    out(cat("snapshot: generation ", generation, ", written ", written, ", interval ", interval, "ms"));
    out("backends:");
    for (const std::string& b : backends)
        out(b);
    out("slots:");
    for (const std::string& s : slots)
        out(s);

    RedisReplyPtr d = redis.call({"HGETALL", key_drain}, why);
    if (d && d->type == REDIS_REPLY_ARRAY && d->elements > 0) {
        out("drains:");
        for (size_t i = 0; i + 1 < d->elements; i += 2)
            out(cat("  ", printable(string_reply(d->element[i]), 300), "  ",
                printable(string_reply(d->element[i + 1]), 300)));
    }
    return 0;
}

}  // namespace

int run_ctl(const std::vector<std::string>& args)
{
    std::string path;
    std::string command;
    std::string backend;
    std::string mount;
    std::string note;
    bool have_note = false;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&](std::string& into) {
            if (i + 1 >= args.size())
                return false;
            into = args[++i];
            return true;
        };
        if (a == "-h" || a == "--help") {
            std::fwrite(usage.data(), 1, usage.size(), stdout);
            return 0;
        }
        if (a == "-c" || a == "--config") {
            if (!value(path))
                return bad_usage(cat(a, " needs a file name"));
        } else if (a == "--mount") {
            if (!value(mount))
                return bad_usage("--mount needs a mount");
        } else if (a == "--note") {
            if (!value(note))
                return bad_usage("--note needs a text");
            have_note = true;
        } else if (command.empty() && (a == "drain" || a == "undrain" || a == "status")) {
            command = a;
        } else if (!command.empty() && command != "status" && backend.empty() && !a.starts_with('-')) {
            backend = a;
        } else {
            return bad_usage(cat("unexpected argument ", quote(a)));
        }
    }
    if (path.empty())
        return bad_usage("no configuration file given (-c FILE)");
    if (command.empty())
        return bad_usage("no command given");
    if (command != "status" && backend.empty())
        return bad_usage(cat(command, " needs a backend name"));
    if (command != "drain" && have_note)
        return bad_usage("--note goes with drain only");
    if (command == "status" && !mount.empty())
        return bad_usage("--mount goes with drain and undrain only");

    ConfigResult loaded = load_config(path);
    if (!loaded.config) {
        for (const std::string& e : loaded.errors)
            std::fprintf(stderr, "%s\n", e.c_str());
        return fail(cat("invalid configuration in ", path));
    }
    const Config& c = *loaded.config;
    RedisWriter redis(c.redis, 2s);
    if (command == "status")
        return status(redis);

    bool known = false;
    for (const BackendConfig& b : c.backends)
        known = known || b.name == backend;
    if (!known)
        return fail(cat("no backend ", quote(backend), " in ", path));
    if (!mount.empty()) {
        bool used = false;
        for (const StreamConfig& s : c.streams)
            used = used || s.mount == mount;
        if (!used)
            return fail(cat("no stream of ", path, " uses the mount ", quote(mount)));
    }
    for (unsigned char ch : note)
        if (ch < 0x20 || ch == 0x7f)
            return fail("the note must not hold control characters");

    const std::string field = drain_field(backend, mount);
    std::string why;
    RedisReplyPtr r = command == "drain" ? redis.call({"HSET", key_drain, field, note}, why)
                                         : redis.call({"HDEL", key_drain, field}, why);
    if (!r)
        return fail(cat("redis ", c.redis.text, ": ", why));
    if (r->type == REDIS_REPLY_ERROR)
        return fail(cat("redis ", c.redis.text, ": ", printable(std::string_view(r->str, r->len), 200)));
    const bool changed = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    if (command == "drain")
        out(cat(field, ": draining", changed ? "" : " (already was; note updated)",
            "; the writing tuneslotd applies it within one round"));
    else
        out(cat(field, changed ? ": no longer draining" : ": was not draining",
            "; the writing tuneslotd applies it within one round"));
    return 0;
}

}  // namespace tuneslot
