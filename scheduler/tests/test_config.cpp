// Unit tests of the configuration loader: good files, and each kind of bad
// one, with the file:line and key every error must name.

#include "config.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace tuneslot {
namespace {

using std::chrono::milliseconds;

constexpr const char* minimal = R"(
[[backend]]
name = "ice-a"
status = "http://127.0.0.1:8000/load.xsl"
public = "http://a.example.net:8000"

[[stream]]
name = "demo"
mount = "/demo"
)";

std::string join(const std::vector<std::string>& lines)
{
    std::string out;
    for (const std::string& l : lines)
        out += l + "\n";
    return out;
}

// The config must be refused, with an error that names file:line and key.
::testing::AssertionResult refused(const std::string& text, int line, const std::string& key,
    const std::string& part = "")
{
    ConfigResult r = parse_config(text, "test.toml");
    if (r.config)
        return ::testing::AssertionFailure() << "accepted, expected an error at line " << line << " for " << key;
    const std::string where = "test.toml:" + std::to_string(line) + ":";
    for (const std::string& e : r.errors)
        if (e.starts_with(where) && e.find(key) != std::string::npos && e.find(part) != std::string::npos)
            return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "no error at " << where << " naming " << key << " with \"" << part
                                         << "\"; got:\n"
                                         << join(r.errors);
}

std::shared_ptr<const Config> accepted(const std::string& text)
{
    ConfigResult r = parse_config(text, "test.toml");
    EXPECT_TRUE(r.config) << join(r.errors);
    EXPECT_TRUE(r.errors.empty());
    return r.config;
}

// ---- good files ---------------------------------------------------------------

TEST(ConfigGood, MinimalFileGetsTheDocumentedDefaults)
{
    auto c = accepted(minimal);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->redis.host, "127.0.0.1");
    EXPECT_EQ(c->redis.port, 6379);
    EXPECT_TRUE(c->redis.unix_path.empty());
    EXPECT_EQ(c->interval, milliseconds(1000));
    EXPECT_EQ(c->timeout, milliseconds(1000));
    ASSERT_EQ(c->backends.size(), 1u);
    const BackendConfig& b = c->backends[0];
    EXPECT_EQ(b.name, "ice-a");
    EXPECT_EQ(b.format, StatusFormat::load_xsl);
    EXPECT_EQ(b.weight, 100u);
    EXPECT_EQ(b.region, "");
    ASSERT_EQ(c->streams.size(), 1u);
    ASSERT_EQ(c->streams[0].urls.size(), 1u);
    EXPECT_EQ(c->streams[0].urls[0], "http://a.example.net:8000/demo");
}

TEST(ConfigGood, EveryKeySet)
{
    auto c = accepted(R"(
redis = "unix:/run/redis/redis.sock"
interval = "2m"
timeout = "250ms"

[[backend]]
name = "ice-a"
status = "https://ice-a.example.net/admin/stats"
format = "icecast-admin"
public = "https://ice-a.example.net/radio/"
region = "eu-west.1"
weight = 0
username = "ops"
password = "s3cret with spaces"

[[backend]]
name = "ice_b"
status = "http://[::1]:8000/load.xsl"
public = "http://b.example.net"
weight = 1000000

[[stream]]
name = "demo"
mount = "/demo"

[[stream]]
name = "talk.mp3"
mount = "/talk.mp3"
)");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->redis.unix_path, "/run/redis/redis.sock");
    EXPECT_EQ(c->interval, milliseconds(120000));
    EXPECT_EQ(c->timeout, milliseconds(250));
    ASSERT_EQ(c->backends.size(), 2u);
    EXPECT_EQ(c->backends[0].format, StatusFormat::icecast_admin);
    EXPECT_EQ(c->backends[0].username, "ops");
    EXPECT_EQ(c->backends[0].password, "s3cret with spaces");
    EXPECT_EQ(c->backends[0].region, "eu-west.1");
    EXPECT_EQ(c->backends[0].weight, 0u);
    EXPECT_EQ(c->backends[1].weight, 1000000u);
    ASSERT_EQ(c->streams.size(), 2u);
    EXPECT_EQ(c->streams[0].urls[0], "https://ice-a.example.net/radio/demo");
    EXPECT_EQ(c->streams[1].urls[1], "http://b.example.net/talk.mp3");
}

TEST(ConfigGood, IcecastAdminUserDefaultsToAdmin)
{
    auto c = accepted(R"(
[[backend]]
name = "a"
status = "http://127.0.0.1:8000/admin/stats"
format = "icecast-admin"
public = "http://127.0.0.1:8000"
password = "hackme"
[[stream]]
name = "s"
mount = "/s"
)");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->backends[0].username, "admin");
}

TEST(ConfigGood, RedisAddressForms)
{
    for (auto [text, host, port] : {std::tuple{"localhost:6380", "localhost", 6380},
             std::tuple{"[::1]:7000", "::1", 7000}, std::tuple{"10.0.0.5:1", "10.0.0.5", 1}}) {
        auto c = accepted(std::string("redis = \"") + text + "\"\n" + minimal);
        ASSERT_TRUE(c) << text;
        EXPECT_EQ(c->redis.host, host);
        EXPECT_EQ(c->redis.port, port);
        EXPECT_EQ(c->redis.text, text);
    }
}

TEST(ConfigGood, Durations)
{
    milliseconds d{};
    EXPECT_TRUE(parse_duration("250ms", d));
    EXPECT_EQ(d, milliseconds(250));
    EXPECT_TRUE(parse_duration("1s", d));
    EXPECT_EQ(d, milliseconds(1000));
    EXPECT_TRUE(parse_duration("2m", d));
    EXPECT_EQ(d, milliseconds(120000));
    EXPECT_TRUE(parse_duration("1h", d));
    EXPECT_EQ(d, milliseconds(3600000));
    for (const char* bad : {"", "1", "s", "0s", "-1s", "+1s", "1.5s", "1 s", " 1s", "1sec", "1S", "1d", "1e3ms",
             "9999999999s"})
        EXPECT_FALSE(parse_duration(bad, d)) << bad;
}

// ---- bad files: each names file:line and key ------------------------------------

TEST(ConfigBad, TomlSyntaxErrorHasLineAndColumn)
{
    ConfigResult r = parse_config("interval = \"1s\"\nredis = = 3\n", "test.toml");
    ASSERT_FALSE(r.config);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_TRUE(r.errors[0].starts_with("test.toml:2:")) << r.errors[0];
    EXPECT_NE(r.errors[0].find("TOML syntax"), std::string::npos) << r.errors[0];
}

TEST(ConfigBad, UnknownKeysAreErrors)
{
    EXPECT_TRUE(refused(std::string("intervall = \"1s\"\n") + minimal, 1, "intervall", "unknown key"));
    std::string typo = minimal;
    typo.insert(typo.find("[[stream]]"), "wieght = 5\n\n");
    EXPECT_TRUE(refused(typo, 7, "backend[1].wieght", "unknown key"));
    EXPECT_TRUE(refused(std::string(minimal) + "codec = \"mp3\"\n", 10, "stream[1].codec", "unknown key"));
    EXPECT_TRUE(refused(std::string("[extra]\nx = 1\n") + minimal, 1, "extra", "unknown key"));
}

TEST(ConfigBad, WrongTypes)
{
    EXPECT_TRUE(refused(std::string("interval = 5\n") + minimal, 1, "interval", "expected a string, got an integer"));
    EXPECT_TRUE(refused(std::string("redis = 6379\n") + minimal, 1, "redis", "expected a string"));
    std::string w = minimal;
    w.insert(w.find("[[stream]]"), "weight = \"100\"\n");
    EXPECT_TRUE(refused(w, 7, "backend[1].weight", "expected an integer, got a string"));
    w = minimal;
    w.insert(w.find("[[stream]]"), "weight = 1.5\n");
    EXPECT_TRUE(refused(w, 7, "backend[1].weight", "got a float"));
}

TEST(ConfigBad, OutOfRangeValues)
{
    std::string w = minimal;
    w.insert(w.find("[[stream]]"), "weight = 1000001\n");
    EXPECT_TRUE(refused(w, 7, "backend[1].weight", "out of range 0..1000000"));
    w = minimal;
    w.insert(w.find("[[stream]]"), "weight = -1\n");
    EXPECT_TRUE(refused(w, 7, "backend[1].weight", "out of range"));
    EXPECT_TRUE(refused(std::string("interval = \"50ms\"\n") + minimal, 1, "interval", "out of range"));
    EXPECT_TRUE(refused(std::string("interval = \"2h\"\n") + minimal, 1, "interval", "out of range"));
    EXPECT_TRUE(refused(std::string("timeout = \"5ms\"\n") + minimal, 1, "timeout", "minimum"));
}

TEST(ConfigBad, BadDurations)
{
    EXPECT_TRUE(refused(std::string("interval = \"1.5s\"\n") + minimal, 1, "interval", "not a duration"));
    EXPECT_TRUE(refused(std::string("interval = \"1 s\"\n") + minimal, 1, "interval", "not a duration"));
    EXPECT_TRUE(refused(std::string("timeout = \"0s\"\n") + minimal, 1, "timeout", "not a duration"));
}

TEST(ConfigBad, TimeoutLongerThanInterval)
{
    EXPECT_TRUE(refused(std::string("interval = \"1s\"\ntimeout = \"2s\"\n") + minimal, 2, "timeout",
        "longer than interval"));
}

TEST(ConfigBad, BadRedisAddresses)
{
    for (const char* bad : {"localhost", "localhost:0", "localhost:65536", "localhost:x", ":6379", "unix:relative.sock",
             "unix:", "[::1:6379", "host name:6379", "redis://localhost:6379"})
        EXPECT_TRUE(refused(std::string("redis = \"") + bad + "\"\n" + minimal, 1, "redis")) << bad;
}

TEST(ConfigBad, BadNames)
{
    for (const std::string& bad :
        std::vector<std::string>{"", "a/b", ".hidden", "a..b", "with space", "caf\\u00e9", "tab\\there", std::string(129, 'x')}) {
        std::string t = minimal;
        t.replace(t.find("\"ice-a\""), 7, "\"" + bad + "\"");
        EXPECT_TRUE(refused(t, 3, "backend[1].name", "not a valid name")) << bad;
    }
    std::string t = minimal;
    t.replace(t.find("\"demo\""), 6, "\"de/mo\"");
    EXPECT_TRUE(refused(t, 8, "stream[1].name", "not a valid name"));
}

TEST(ConfigBad, DuplicateNames)
{
    std::string t = std::string(minimal) + R"(
[[backend]]
name = "ice-a"
status = "http://127.0.0.1:8001/load.xsl"
public = "http://b.example.net:8000"

[[stream]]
name = "demo"
mount = "/other"
)";
    EXPECT_TRUE(refused(t, 12, "backend[2].name", "duplicate backend name \"ice-a\" (first at line 3)"));
    EXPECT_TRUE(refused(t, 17, "stream[2].name", "duplicate stream name \"demo\" (first at line 8)"));
}

TEST(ConfigBad, MissingRequiredKeys)
{
    std::string t = minimal;
    t.erase(t.find("status = "), t.find('\n', t.find("status = ")) - t.find("status = ") + 1);
    EXPECT_TRUE(refused(t, 2, "backend[1].status", "missing"));
    t = minimal;
    t.erase(t.find("mount = "), t.find('\n', t.find("mount = ")) - t.find("mount = ") + 1);
    EXPECT_TRUE(refused(t, 7, "stream[1].mount", "missing"));
}

TEST(ConfigBad, NoBackendsOrStreams)
{
    EXPECT_TRUE(refused("[[stream]]\nname = \"s\"\nmount = \"/s\"\n", 1, "backend", "no [[backend]]"));
    std::string t = minimal;
    t.erase(t.find("[[stream]]"));
    EXPECT_TRUE(refused(t, 1, "stream", "no [[stream]]"));
    EXPECT_TRUE(refused("[backend]\nname = \"a\"\n[[stream]]\nname = \"s\"\nmount = \"/s\"\n", 1, "backend",
        "array of tables"));
}

TEST(ConfigBad, BadStatusUrls)
{
    for (const char* bad : {"ftp://127.0.0.1/load.xsl", "file:///etc/passwd", "127.0.0.1:8000/load.xsl",
             "http://admin:hackme@127.0.0.1:8000/admin/stats", "http://127.0.0.1:8000/load.xsl#x", "http://",
             "http://127.0.0.1:8000/a b"}) {
        std::string t = minimal;
        t.replace(t.find("\"http://127.0.0.1:8000/load.xsl\""), 32, std::string("\"") + bad + "\"");
        EXPECT_TRUE(refused(t, 4, "backend[1].status")) << bad;
    }
}

TEST(ConfigBad, BadPublicUrls)
{
    for (const char* bad : {"ftp://a.example.net", "a.example.net:8000", "http://a.example.net/x?y=1",
             "http://a.example.net/<x>", "http://a.example.net/#frag"}) {
        std::string t = minimal;
        t.replace(t.find("\"http://a.example.net:8000\""), 27, std::string("\"") + bad + "\"");
        EXPECT_TRUE(refused(t, 5, "backend[1].public")) << bad;
    }
}

TEST(ConfigFormats, RtmpAndRtspPublicUrlsAreListenUrlBases)
{
    // nginx-rtmp, Wowza and MediaMTX listeners connect over RTMP or RTSP
    const struct {
        const char* format;
        const char* extra;
        const char* public_url;
        const char* mount;
        const char* url;
    } cases[] = {
        {"nginx-rtmp", "max_listeners = 10\n", "rtmp://a.example.net:1935", "/live/demo",
            "rtmp://a.example.net:1935/live/demo"},
        {"wowza", "password = \"pw\"\n", "rtmps://a.example.net/", "/live/demo", "rtmps://a.example.net/live/demo"},
        {"mediamtx", "max_listeners = 10\n", "rtsp://a.example.net:8554", "/cam1", "rtsp://a.example.net:8554/cam1"},
        {"mediamtx", "max_listeners = 10\n", "rtsps://a.example.net:8322", "/cam1", "rtsps://a.example.net:8322/cam1"},
    };
    for (const auto& k : cases) {
        std::string t = minimal;
        t.replace(t.find("\"http://a.example.net:8000\""), 27, std::string("\"") + k.public_url + "\"");
        t.replace(t.find("\"/demo\""), 7, std::string("\"") + k.mount + "\"");
        t.insert(t.find("[[stream]]"), std::string("format = \"") + k.format + "\"\n" + k.extra);
        auto c = accepted(t);
        ASSERT_TRUE(c) << k.public_url;
        EXPECT_EQ(c->backends[0].public_url, k.public_url);
        ASSERT_EQ(c->streams[0].urls.size(), 1u);
        EXPECT_EQ(c->streams[0].urls[0], k.url);
    }
    for (const char* bad : {"rtmpt://a.example.net", "RTMP://a.example.net", "rtmp://", "rtsp://a.example.net/x?y"}) {
        std::string t = minimal;
        t.replace(t.find("\"http://a.example.net:8000\""), 27, std::string("\"") + bad + "\"");
        EXPECT_TRUE(refused(t, 5, "backend[1].public")) << bad;
    }
}

TEST(ConfigBad, BadMounts)
{
    for (const char* bad : {"demo", "", "/a/../b", "/a b", "/a?x=1"}) {
        std::string t = minimal;
        t.replace(t.find("\"/demo\""), 7, std::string("\"") + bad + "\"");
        EXPECT_TRUE(refused(t, 9, "stream[1].mount")) << bad;
    }
}

TEST(ConfigBad, BadRegionsAndFormats)
{
    std::string t = minimal;
    t.insert(t.find("[[stream]]"), "region = \"eu west\"\n");
    EXPECT_TRUE(refused(t, 7, "backend[1].region", "not a valid region"));
    t = minimal;
    t.insert(t.find("[[stream]]"), "region = \"" + std::string(65, 'r') + "\"\n");
    EXPECT_TRUE(refused(t, 7, "backend[1].region", "not a valid region"));
    t = minimal;
    t.insert(t.find("[[stream]]"), "format = \"json\"\n");
    EXPECT_TRUE(refused(t, 7, "backend[1].format", "not a format"));
}

TEST(ConfigBad, CredentialsBelongToIcecastAdminOnly)
{
    std::string t = minimal;
    t.insert(t.find("[[stream]]"), "password = \"x\"\n");
    EXPECT_TRUE(refused(t, 7, "backend[1].password", "only used with format = \"icecast-admin\""));

    t = minimal;
    t.insert(t.find("[[stream]]"), "format = \"icecast-admin\"\n");
    EXPECT_TRUE(refused(t, 2, "backend[1].password", "required with format = \"icecast-admin\""));

    t = minimal;
    t.insert(t.find("[[stream]]"), "format = \"icecast-admin\"\nusername = \"a:b\"\npassword = \"x\"\n");
    EXPECT_TRUE(refused(t, 8, "backend[1].username", "':'"));
}

// ---- status formats and the operator's limits ----------------------------------

TEST(ConfigFormats, EveryFormatHasItsName)
{
    for (const char* name : {"load-xsl", "icecast-admin", "icecast-json", "shoutcast1", "shoutcast2", "nginx-rtmp",
             "wowza", "mediamtx"}) {
        std::string t = minimal;
        std::string extra = std::string("format = \"") + name + "\"\n";
        const std::string_view n = name;
        if (n == "icecast-admin" || n == "shoutcast1" || n == "wowza")
            extra += "password = \"pw\"\n";
        if (n == "icecast-json" || n == "nginx-rtmp" || n == "mediamtx")
            extra += "max_listeners = 10\n";
        t.insert(t.find("[[stream]]"), extra);
        auto c = accepted(t);
        ASSERT_TRUE(c) << name;
        EXPECT_EQ(status_format_name(c->backends[0].format), name);
    }
}

TEST(ConfigFormats, LimitsDefaultToNoneAndTakeWholeCounts)
{
    auto c = accepted(minimal);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->backends[0].max_listeners, UINT32_MAX);
    EXPECT_EQ(c->backends[0].max_clients, UINT32_MAX);

    std::string t = minimal;
    t.insert(t.find("[[stream]]"), "max_listeners = 0\nmax_clients = 4294967294\n");
    c = accepted(t);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->backends[0].max_listeners, 0u);
    EXPECT_EQ(c->backends[0].max_clients, 4294967294u);

    for (const char* bad : {"-1", "4294967295", "\"10\"", "1.5"}) {
        t = minimal;
        t.insert(t.find("[[stream]]"), std::string("max_clients = ") + bad + "\n");
        EXPECT_TRUE(refused(t, 7, "backend[1].max_clients")) << bad;
    }
}

TEST(ConfigFormats, IcecastJsonNeedsMaxListeners)
{
    std::string t = minimal;
    t.insert(t.find("[[stream]]"), "format = \"icecast-json\"\n");
    EXPECT_TRUE(refused(t, 2, "backend[1].max_listeners", "required with format = \"icecast-json\""));
}

TEST(ConfigFormats, NginxRtmpAndMediamtxNeedMaxListeners)
{
    for (const char* name : {"nginx-rtmp", "mediamtx"}) {
        std::string t = minimal;
        t.insert(t.find("[[stream]]"), std::string("format = \"") + name + "\"\n");
        EXPECT_TRUE(refused(t, 2, "backend[1].max_listeners",
            std::string("required with format = \"") + name + "\": the server reports no listener limit"))
            << name;
    }
}

TEST(ConfigFormats, WowzaUsesCredentialsWithDigestAndNoMaxListeners)
{
    std::string t = minimal;
    t.insert(t.find("[[stream]]"), "format = \"wowza\"\nusername = \"monitor\"\npassword = \"pw\"\n");
    auto c = accepted(t);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->backends[0].username, "monitor");
    EXPECT_EQ(c->backends[0].max_listeners, UINT32_MAX);
    EXPECT_TRUE(uses_credentials(c->backends[0].format));
    EXPECT_TRUE(offers_digest(c->backends[0].format));

    t = minimal;
    t.insert(t.find("[[stream]]"), "format = \"wowza\"\n");
    EXPECT_TRUE(refused(t, 2, "backend[1].password", "required with format = \"wowza\""));

    // the others keep basic alone: one request, no round trip to ask
    for (StatusFormat f : {StatusFormat::icecast_admin, StatusFormat::shoutcast1})
        EXPECT_FALSE(offers_digest(f)) << status_format_name(f);
    t = minimal;
    t.insert(t.find("[[stream]]"), "format = \"mediamtx\"\nmax_listeners = 10\npassword = \"pw\"\n");
    EXPECT_TRUE(refused(t, 9, "backend[1].password",
        "only used with format = \"icecast-admin\", \"shoutcast1\" or \"wowza\""));
}

TEST(ConfigFormats, Shoutcast1UsesCredentialsNotAPassInTheUrl)
{
    std::string t = minimal;
    t.insert(t.find("[[stream]]"), "format = \"shoutcast1\"\npassword = \"pw\"\n");
    auto c = accepted(t);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->backends[0].username, "admin");
    EXPECT_TRUE(uses_credentials(c->backends[0].format));

    t = minimal;
    t.insert(t.find("[[stream]]"), "format = \"shoutcast1\"\n");
    EXPECT_TRUE(refused(t, 2, "backend[1].password", "required with format = \"shoutcast1\""));

    t = minimal;
    t.replace(t.find("/load.xsl"), 9, "/admin.cgi?mode=viewxml&pass=pw");
    t.insert(t.find("[[stream]]"), "format = \"shoutcast1\"\npassword = \"pw\"\n");
    EXPECT_TRUE(refused(t, 4, "backend[1].status", "must not carry pass="));

    t = minimal;
    t.insert(t.find("[[stream]]"), "format = \"shoutcast2\"\npassword = \"pw\"\n");
    EXPECT_TRUE(refused(t, 8, "backend[1].password", "only used with"));
}

TEST(ConfigBad, EveryProblemIsReportedInFileOrder)
{
    ConfigResult r = parse_config(std::string("interval = \"soon\"\n") + R"(
[[backend]]
name = "bad/name"
status = "gopher://x"
public = "http://a"
[[stream]]
name = "s"
mount = "s"
)",
        "test.toml");
    ASSERT_FALSE(r.config);
    ASSERT_EQ(r.errors.size(), 4u) << join(r.errors);
    EXPECT_TRUE(r.errors[0].starts_with("test.toml:1: interval:")) << r.errors[0];
    EXPECT_TRUE(r.errors[1].starts_with("test.toml:4: backend[1].name:")) << r.errors[1];
    EXPECT_TRUE(r.errors[2].starts_with("test.toml:5: backend[1].status:")) << r.errors[2];
    EXPECT_TRUE(r.errors[3].starts_with("test.toml:9: stream[1].mount:")) << r.errors[3];
}

TEST(ConfigFile, MissingFileIsAnError)
{
    ConfigResult r = load_config("/nonexistent/tuneslotd.toml");
    ASSERT_FALSE(r.config);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0], "/nonexistent/tuneslotd.toml: cannot open: No such file or directory");
}

// ---- Redis credentials --------------------------------------------------------

constexpr const char* secret = "Pa55-w0rd with spaces";

TEST(ConfigRedisAuth, UserPasswordAndDb)
{
    auto c = accepted(std::string("redis_user = \"writer\"\nredis_password = \"") + secret
        + "\"\nredis_db = 65535\n" + minimal);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->redis.user, "writer");
    EXPECT_EQ(c->redis.password, secret);
    EXPECT_EQ(c->redis.db, 65535);
    EXPECT_EQ(describe_redis(c->redis), "127.0.0.1:6379 (AUTH as user writer, db 65535)");

    c = accepted(minimal);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->redis.password, "");
    EXPECT_EQ(c->redis.db, 0);
    EXPECT_EQ(describe_redis(c->redis), "127.0.0.1:6379");
    c = accepted(std::string("redis_password = \"") + secret + "\"\n" + minimal);
    ASSERT_TRUE(c);
    EXPECT_EQ(describe_redis(c->redis), "127.0.0.1:6379 (AUTH)");
}

TEST(ConfigRedisAuth, BadCombinationsAndValues)
{
    EXPECT_TRUE(refused(std::string("redis_user = \"writer\"\n") + minimal, 1, "redis_user",
        "needs redis_password or redis_password_file"));
    EXPECT_TRUE(refused(std::string("redis_password = \"x\"\nredis_password_file = \"/etc/pw\"\n") + minimal, 2,
        "redis_password_file", "not both"));
    EXPECT_TRUE(refused(std::string("redis_password = \"\"\n") + minimal, 1, "redis_password", "must not be empty"));
    EXPECT_TRUE(refused(std::string("redis_user = \"a b\"\nredis_password = \"x\"\n") + minimal, 1, "redis_user",
        "without spaces"));
    EXPECT_TRUE(refused(std::string("redis_db = 65536\n") + minimal, 1, "redis_db", "out of range 0..65535"));
    EXPECT_TRUE(refused(std::string("redis_db = -1\n") + minimal, 1, "redis_db", "out of range"));
    EXPECT_TRUE(refused(std::string("redis_password = 42\n") + minimal, 1, "redis_password", "expected a string"));
}

TEST(ConfigRedisAuth, NoMessageQuotesThePassword)
{
    // a password that is refused for its bytes, a TOML syntax error on its
    // line, a type error next to it: the errors never hold the secret
    const std::string texts[] = {
        std::string("redis_password = \"") + secret + "\\u0001\"\n" + minimal,
        std::string("redis_password = \"") + secret + "\nredis_db = 1\n" + minimal,
        std::string("redis_password = '") + secret + "' x\n" + minimal,
        std::string("redis_password = \"") + secret + "\"\nredis_password_file = \"/nonexistent\"\n" + minimal,
        std::string("redis_password = [\"") + secret + "\"]\n" + minimal,
    };
    for (const std::string& t : texts) {
        ConfigResult r = parse_config(t, "test.toml");
        EXPECT_FALSE(r.config) << t;
        ASSERT_FALSE(r.errors.empty()) << t;
        for (const std::string& e : r.errors)
            EXPECT_EQ(e.find("Pa55-w0rd"), std::string::npos) << e;
    }
}

// A directory of its own for files with modes, removed at the end.
class TempDir {
public:
    TempDir()
    {
        char tmpl[] = "/tmp/tuneslotd-test-XXXXXX";
        const char* d = ::mkdtemp(tmpl);
        EXPECT_NE(d, nullptr);
        path_ = d != nullptr ? d : "/tmp";
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() { std::filesystem::remove_all(path_); }

    const std::string& path() const noexcept { return path_; }

    std::string write(const std::string& name, const std::string& text, mode_t mode)
    {
        const std::string p = path_ + "/" + name;
        std::ofstream(p, std::ios::binary) << text;
        EXPECT_EQ(::chmod(p.c_str(), mode), 0) << p;
        return p;
    }

private:
    std::string path_;
};

TEST(ConfigRedisAuth, PasswordFileFirstLineRelativeToTheConfig)
{
    TempDir dir;
    dir.write("redis.pw", std::string(secret) + "\r\nsecond line\n", 0600);
    const std::string conf = dir.write("t.toml", std::string("redis_password_file = \"redis.pw\"\n") + minimal, 0600);
    ConfigResult r = load_config(conf);
    ASSERT_TRUE(r.config) << join(r.errors);
    EXPECT_EQ(r.config->redis.password, secret);
    EXPECT_TRUE(r.config->redis_password_file.ends_with("/redis.pw")) << r.config->redis_password_file;
    EXPECT_TRUE(readable_secrets(*r.config).empty());

    dir.write("empty.pw", "\nsecond line\n", 0600);
    const std::string empty = dir.write("e.toml", std::string("redis_password_file = \"empty.pw\"\n") + minimal, 0600);
    r = load_config(empty);
    ASSERT_FALSE(r.config);
    EXPECT_NE(join(r.errors).find("redis_password_file: \""), std::string::npos) << join(r.errors);
    EXPECT_NE(join(r.errors).find("empty.pw\": the first line (the password) is empty"), std::string::npos)
        << join(r.errors);

    const std::string missing = dir.write("m.toml", std::string("redis_password_file = \"nope.pw\"\n") + minimal, 0600);
    r = load_config(missing);
    ASSERT_FALSE(r.config);
    EXPECT_NE(join(r.errors).find("nope.pw\": cannot open: No such file or directory"), std::string::npos)
        << join(r.errors);
}

TEST(ConfigRedisAuth, WorldReadableFilesWithPasswordsAreNamed)
{
    TempDir dir;
    const std::string backend_password = std::string(minimal).insert(std::string(minimal).find("[[stream]]"),
        "format = \"icecast-admin\"\npassword = \"hackme\"\n");
    const std::string inline_redis = std::string("redis_password = \"") + secret + "\"\n" + minimal;
    dir.write("redis.pw", std::string(secret) + "\n", 0644);
    const std::string from_file = std::string("redis_password_file = \"redis.pw\"\n") + minimal;

    struct Case {
        std::string text;
        mode_t mode;
        std::vector<std::string> named;     // the files a warning names
    };
    const std::string conf = dir.path() + "/t.toml";
    const std::string pw = dir.path() + "/redis.pw";
    const Case cases[] = {
        {backend_password, 0644, {conf}},
        {backend_password, 0640, {}},           // group-readable is the operator's choice
        {backend_password, 0600, {}},
        {inline_redis, 0604, {conf}},
        {inline_redis, 0600, {}},
        {minimal, 0644, {}},                    // nothing secret in it
        {from_file, 0644, {pw}},                // the secret is in the other file
    };
    for (const Case& k : cases) {
        ::unlink(conf.c_str());
        dir.write("t.toml", k.text, k.mode);
        ConfigResult r = load_config(conf);
        ASSERT_TRUE(r.config) << join(r.errors);
        std::vector<std::string> w = readable_secrets(*r.config);
        ASSERT_EQ(w.size(), k.named.size()) << k.text << join(w);
        for (size_t i = 0; i < w.size(); ++i) {
            char mode[8];
            std::snprintf(mode, sizeof mode, "%04o", k.named[i] == conf ? static_cast<unsigned>(k.mode) : 0644u);
            EXPECT_TRUE(w[i].starts_with(k.named[i] + " holds a password")) << w[i];
            EXPECT_NE(w[i].find(std::string("(mode ") + mode + ")"), std::string::npos) << w[i];
            EXPECT_NE(w[i].find("chmod 600 " + k.named[i]), std::string::npos) << w[i];
            EXPECT_EQ(w[i].find("Pa55"), std::string::npos) << w[i];
        }
    }
}

// ---- the documentation covers exactly the keys the loader knows -----------------

TEST(ConfigDocs, EveryKeyIsDocumentedWithItsDefaultAndNoOther)
{
    std::ifstream in(TUNESLOT_DOCS_FILE);
    ASSERT_TRUE(in) << "cannot read " << TUNESLOT_DOCS_FILE;
    std::stringstream text;
    text << in.rdbuf();
    // keys are documented in "## Configuration" only: the headings of other
    // sections ("### `wowza`" under "## Status formats") are not keys
    std::string docs = text.str();
    const size_t section = docs.find("\n## Configuration\n");
    ASSERT_NE(section, std::string::npos) << "no \"## Configuration\" section";
    docs = docs.substr(section + 1);
    docs = docs.substr(0, docs.find("\n## ", 1));

    // a key is documented under a heading "### `key`" or "### `backend.key`",
    // followed by a table with a "| Default | ... |" row
    std::map<std::string, std::string> documented;   // key -> its Default row
    std::regex heading(R"(^### `([a-z_.]+)`$)", std::regex::multiline);
    std::regex default_row(R"(^\| Default \| (.*) \|$)", std::regex::multiline);
    for (auto it = std::sregex_iterator(docs.begin(), docs.end(), heading); it != std::sregex_iterator(); ++it) {
        std::smatch row;
        std::string rest = docs.substr(static_cast<size_t>(it->position() + it->length()));
        rest = rest.substr(0, rest.find("\n### "));
        documented[(*it)[1]] = std::regex_search(rest, row, default_row) ? row[1].str() : "";
    }

    std::set<std::string> known;
    for (const ConfigKey& k : config_keys()) {
        known.insert(k.name);
        auto it = documented.find(k.name);
        if (it == documented.end()) {
            ADD_FAILURE() << "key " << k.name << " is not documented";
            continue;
        }
        if (k.required) {
            EXPECT_NE(it->second.find("required"), std::string::npos) << k.name << ": " << it->second;
        } else if (!k.default_toml.empty()) {
            EXPECT_EQ(it->second, "`" + std::string(k.default_toml) + "`") << k.name;
        }
    }
    for (const auto& [name, row] : documented)
        EXPECT_TRUE(known.contains(name)) << "documented key " << name << " does not exist";
}

}  // namespace
}  // namespace tuneslot
