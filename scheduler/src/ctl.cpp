#include "ctl.h"

#include "config.h"
#include "contract.h"
#include "drain.h"
#include "placement.h"
#include "redis_writer.h"
#include "text.h"
#include "metrics_server.h"
#include "unique_fd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string_view>
#include <utility>

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
    "       tuneslotd ctl -c FILE status\n"
    "       tuneslotd ctl -c FILE place [--listeners N] [--region R] [--json]\n";

// How long `place` waits for the running tuneslotd's answer, all told
constexpr std::chrono::milliseconds place_timeout = 5s;

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

// GET target from the running tuneslotd's HTTP listener (its `metrics`
// address, numeric); the status code and the body, or nullopt with why set
std::optional<std::pair<int, std::string>> http_get(const Config& c, const std::string& target, std::string& why)
{
    sockaddr_storage ss{};
    const socklen_t len = numeric_sockaddr(c.metrics_host, c.metrics_port, ss);
    UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const auto deadline = std::chrono::steady_clock::now() + place_timeout;
    auto wait_for = [&](short events) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fd.get(), events, 0};
        return left.count() > 0 && ::poll(&p, 1, static_cast<int>(left.count())) == 1;
    };
    if (!fd) {
        why = cat("socket: ", std::strerror(errno));
        return std::nullopt;
    }
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
        why = std::strerror(errno);
        return std::nullopt;
    }
    int err = 0;
    socklen_t err_len = sizeof err;
    if (!wait_for(POLLOUT) || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &err_len) != 0 || err != 0) {
        why = err ? std::strerror(err) : "connect: timeout";
        return std::nullopt;
    }
    // the listener's token, when it has one, as any scraper sends it
    const std::string request = cat("GET ", target, " HTTP/1.0\r\nHost: ", c.metrics, "\r\n",
        c.http_token.empty() ? std::string() : cat("Authorization: Bearer ", c.http_token, "\r\n"), "\r\n");
    for (size_t sent = 0; sent < request.size();) {
        if (!wait_for(POLLOUT)) {
            why = "send: timeout";
            return std::nullopt;
        }
        ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            why = cat("send: ", std::strerror(errno));
            return std::nullopt;
        }
        sent += n > 0 ? static_cast<size_t>(n) : 0;
    }
    std::string in;
    for (;;) {
        if (!wait_for(POLLIN)) {
            why = "no answer in time";
            return std::nullopt;
        }
        char buf[4096];
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n == 0)
            break;
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            why = cat("recv: ", std::strerror(errno));
            return std::nullopt;
        }
        if (n > 0)
            in.append(buf, static_cast<size_t>(n));
        if (in.size() > (1u << 24)) {
            why = "answer too large";
            return std::nullopt;
        }
    }
    const size_t head_end = in.find("\r\n\r\n");
    if (!in.starts_with("HTTP/1.") || in.size() < 12 || head_end == std::string::npos) {
        why = "not an HTTP answer";
        return std::nullopt;
    }
    return std::make_pair(std::atoi(in.c_str() + 9), in.substr(head_end + 4));
}

int place_command(const Config& c, const std::string& listeners, const std::string& region, bool json)
{
    if (c.metrics.empty())
        return fail(cat("place asks the running tuneslotd on its HTTP listener, and ", c.path,
            " sets none (the key `metrics`)"));
    std::string query = cat("format=", json ? "json" : "text");
    if (!listeners.empty())
        query += cat("&listeners=", listeners);
    if (!region.empty())
        query += cat("&region=", region);
    // checked here too, so a bad value is told without a round trip
    std::string why;
    if (!parse_place_query(query, why))
        return bad_usage(why);
    std::optional<std::pair<int, std::string>> got = http_get(c, cat("/place?", query), why);
    if (!got)
        return fail(cat("tuneslotd at ", c.metrics, ": ", why));
    if (got->first != 200)
        return fail(cat("tuneslotd at ", c.metrics, " answered ", got->first, ": ", printable(got->second, 300)));
    std::fwrite(got->second.data(), 1, got->second.size(), stdout);
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
    std::string listeners;
    std::string region;
    bool have_note = false;
    bool json = false;
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
        } else if (a == "--listeners" && command == "place") {
            if (!value(listeners))
                return bad_usage("--listeners needs a count");
        } else if (a == "--region" && command == "place") {
            if (!value(region))
                return bad_usage("--region needs a region");
        } else if (a == "--json" && command == "place") {
            json = true;
        } else if (command.empty() && (a == "drain" || a == "undrain" || a == "status" || a == "place")) {
            command = a;
        } else if (!command.empty() && command != "status" && command != "place" && backend.empty()
            && !a.starts_with('-')) {
            backend = a;
        } else {
            return bad_usage(cat("unexpected argument ", quote(a)));
        }
    }
    if (path.empty())
        return bad_usage("no configuration file given (-c FILE)");
    if (command.empty())
        return bad_usage("no command given");
    if (command != "status" && command != "place" && backend.empty())
        return bad_usage(cat(command, " needs a backend name"));
    if (command != "drain" && have_note)
        return bad_usage("--note goes with drain only");
    if ((command == "status" || command == "place") && !mount.empty())
        return bad_usage("--mount goes with drain and undrain only");

    ConfigResult loaded = load_config(path);
    if (!loaded.config) {
        for (const std::string& e : loaded.errors)
            std::fprintf(stderr, "%s\n", e.c_str());
        return fail(cat("invalid configuration in ", path));
    }
    const Config& c = *loaded.config;
    if (command == "place")
        return place_command(c, listeners, region, json);
    RedisWriter redis(c.redis, 2s);
    if (command == "status")
        return status(redis);

    if (std::string why = check_drain_request(c, backend, mount, note); !why.empty())
        return fail(why);

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
