#pragma once

// The daemon's configuration: a TOML file turned into an immutable Config.
//
// Every key is declared once, in the tables of config.cpp (name, type,
// default, meaning); docs/tuneslotd.md documents the same keys and a unit
// test checks that the two agree.  A Config is never modified after
// load_config() returns it; a reload (SIGHUP) builds a new one and
// swaps the shared_ptr.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tuneslot {

enum class StatusFormat { load_xsl, icecast_admin, icecast_json, shoutcast1, shoutcast2, nginx_rtmp, wowza, mediamtx };

std::string_view status_format_name(StatusFormat format) noexcept;

// Formats whose status page needs the backend's username and password
// (HTTP basic authentication; Wowza: basic or digest, see
// offers_digest()).
constexpr bool uses_credentials(StatusFormat format) noexcept
{
    return format == StatusFormat::icecast_admin || format == StatusFormat::shoutcast1
        || format == StatusFormat::wowza;
}

// Formats whose server may ask for HTTP digest authentication (Wowza's
// HTTP providers, "admin-digest"): the poller asks first, without
// credentials, and answers with the safest method the server offers, so a
// password never goes in clear to a server that offered digest.
constexpr bool offers_digest(StatusFormat format) noexcept
{
    return format == StatusFormat::wowza;
}

// Formats whose status page reports no listener limit, so the backend's
// max_listeners is required with them.
constexpr bool needs_max_listeners(StatusFormat format) noexcept
{
    return format == StatusFormat::icecast_json || format == StatusFormat::nginx_rtmp
        || format == StatusFormat::mediamtx;
}

// Where Redis is and how to log in there: the connection's whole identity.
struct RedisAddress {
    std::string host;       // TCP: host name or address (no brackets)
    int port = 0;           // TCP: 1..65535
    std::string unix_path;  // non-empty: a Unix socket, host and port unused
    std::string text;       // as written in the config, for log lines
    // sent on every new connection before anything else: AUTH [user]
    // password when password is set, then SELECT db when db is not 0
    std::string user;       // "" or an ACL user (Redis 6+)
    std::string password;   // never logged
    int db = 0;             // 0..65535
    // Redis Sentinel: when sentinels is not empty, the master named
    // master_name is asked of them (host, port and unix_path unused), with
    // AUTH [sentinel_user] sentinel_password when that is set
    std::vector<std::pair<std::string, int>> sentinels;
    std::string master_name;
    std::string sentinel_user;
    std::string sentinel_password;  // never logged
};

// "127.0.0.1:6379" and, when set, " (AUTH as user U, db N)": never the password.
std::string describe_redis(const RedisAddress& redis);

struct Config;

// "2 backends, 1 stream", for log lines.
std::string describe_counts(const Config& config);

struct BackendConfig {
    std::string name;
    std::string status;     // the URL polled
    StatusFormat format = StatusFormat::load_xsl;
    std::string public_url; // base of the listen URLs
    std::string region;     // "" or a region name
    std::uint32_t weight = 100;
    // operator's caps over what the backend reports (load_limits.h);
    // TUNE_UNLIMITED when not set
    std::uint32_t max_listeners = UINT32_MAX;
    std::uint32_t max_clients = UINT32_MAX;
    std::string username;   // formats that authenticate (uses_credentials)
    std::string password;   // never logged
    // health policy: set per backend or, when absent, from the top level
    // (resolved by the loader, so always filled in a loaded Config)
    std::optional<unsigned> fail_after;
    std::optional<unsigned> recover_after;
    std::optional<std::chrono::milliseconds> slow_start;
};

struct StreamConfig {
    std::string name;
    std::string mount;      // as Icecast names it: "/demo"
    // listen URL of this stream on each backend, index = backend's index
    std::vector<std::string> urls;
};

struct Config final {
    std::string path;       // the file it came from
    RedisAddress redis;
    std::string redis_password_file;    // "" or the file redis.password came from
    std::string redis_sentinel_password_file;   // ... redis.sentinel_password
    std::chrono::milliseconds interval{0};
    std::chrono::milliseconds timeout{0};
    unsigned fail_after = 3;            // failed polls in a row before down
    unsigned recover_after = 2;         // good polls in a row before up again
    std::chrono::milliseconds slow_start{0};  // weight ramp after recovery; 0: none
    std::string instance;               // "" means hostname:pid (main decides)
    std::string metrics;                // "" or the "host:port" of the HTTP listener
    std::string metrics_host;           // metrics, split: a numeric address
    int metrics_port = 0;
    bool metrics_loopback = true;       // metrics_host is 127.0.0.0/8 or ::1
    // the listener's secrets ("" when not set): every request must carry
    // http_token; admin_token allows drains from the status page
    std::string http_token;
    std::string http_token_file;        // "" or the file http_token came from
    std::string admin_token;
    std::string admin_token_file;
    std::vector<BackendConfig> backends;
    std::vector<StreamConfig> streams;
};

struct ConfigResult {
    std::shared_ptr<const Config> config;   // null when errors is not empty
    // "FILE:LINE: KEY: what is wrong", one per problem, in file order
    std::vector<std::string> errors;
};

// Reads and validates the file.  Never throws.
ConfigResult load_config(const std::string& path);

// The same for text already in memory; path only names it in messages.
ConfigResult parse_config(std::string_view text, const std::string& path);

// "250ms", "1s", "2m", "1h": a positive whole number and a unit.  Returns
// false for anything else (no sign, no fraction, no space, no other unit).
bool parse_duration(std::string_view text, std::chrono::milliseconds& out);

// Checks an instance id (the lease holder's name): 1..128 printable ASCII
// bytes without spaces.  "" when good, else what is wrong.
std::string check_instance_id(std::string_view id);

// The warnings to log about files that hold a password (the configuration
// itself, redis_password_file) and that every user of the host may read
// (mode & S_IROTH): one line per such file, naming it, its mode and the fix.
// Empty when there is nothing to say.  Stats the files; never throws.
std::vector<std::string> readable_secrets(const Config& config);

// A key the loader accepts, from its declaration table.
struct ConfigKey {
    std::string name;               // "interval", "backend.weight", ...
    std::string_view type;
    bool required;
    std::string_view default_toml;  // "" when none or derived
    std::string_view meaning;
};

std::vector<ConfigKey> config_keys();

}  // namespace tuneslot
