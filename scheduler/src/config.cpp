#include "config.h"

#include "text.h"

#include <tune_link.h>
#include <tune_name.h>
#include <tune_snapshot.h>
#include <tune_url.h>

#include <curl/curl.h>
#include <toml++/toml.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

namespace tuneslot {

namespace {

using std::chrono::milliseconds;

constexpr milliseconds interval_min{100};
constexpr milliseconds interval_max{3600 * 1000};
constexpr milliseconds timeout_min{10};
// the least length of the HTTP listener's tokens
constexpr size_t token_min = 16;

// Where a problem is and what it is; turned into "FILE:LINE: KEY: what".
struct Problem {
    toml::source_position where;
    std::string key;
    std::string what;
};

using Problems = std::vector<Problem>;

// ---- the key tables --------------------------------------------------------

// One configuration key.  apply() checks a value and stores it; it returns
// what is wrong with it, or "" when it was stored.  A key that is absent
// gets default_toml (a TOML value) run through the same apply(); an empty
// default_toml means the key has no default (required) or a derived one
// (see derived defaults in check_config()).
template <class Target>
struct KeyDef {
    std::string_view name;
    std::string_view type;
    bool required;
    std::string_view default_toml;
    std::string_view meaning;
    std::string (*apply)(Target& target, const toml::node& value);
};

std::string_view type_name(const toml::node& node)
{
    switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::none: break;
    }
    return "nothing";
}

std::string get_string(const toml::node& node, std::string& out)
{
    const toml::value<std::string>* s = node.as_string();
    if (s == nullptr)
        return cat("expected a string, got ", type_name(node));
    out = s->get();
    return {};
}

std::string get_integer(const toml::node& node, std::int64_t min, std::int64_t max,
    std::int64_t& out)
{
    const toml::value<std::int64_t>* i = node.as_integer();
    if (i == nullptr)
        return cat("expected an integer, got ", type_name(node));
    if (i->get() < min || i->get() > max)
        return cat(i->get(), " is out of range ", min, "..", max);
    out = i->get();
    return {};
}

bool has_control(std::string_view s)
{
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f)
            return true;
    return false;
}

std::string apply_name(std::string& out, const toml::node& node)
{
    std::string s;
    if (std::string err = get_string(node, s); !err.empty())
        return err;
    tune_rc_t rc = tune_name_check(s.data(), s.size());
    if (rc != TUNE_OK)
        return cat(quote(s), " is not a valid name: ", tune_rc_reason(rc),
            " (1..", TUNE_NAME_MAX, " bytes of A-Z a-z 0-9 . _ -, no leading '.', no '..')");
    out = std::move(s);
    return {};
}

// A listener count limit: 0..TUNE_UNLIMITED - 1 (TUNE_UNLIMITED is "not set").
std::string apply_listener_limit(std::uint32_t& out, const toml::node& node)
{
    std::int64_t n = 0;
    if (std::string err = get_integer(node, 0, TUNE_UNLIMITED - 1, n); !err.empty())
        return err;
    out = static_cast<std::uint32_t>(n);
    return {};
}

std::string apply_duration(milliseconds& out, const toml::node& node)
{
    std::string s;
    if (std::string err = get_string(node, s); !err.empty())
        return cat(err, " (a duration like \"250ms\", \"1s\" or \"2m\")");
    if (!parse_duration(s, out))
        return cat(quote(s), " is not a duration (a whole number and ms, s, m or h: \"250ms\", \"1s\", \"2m\")");
    return {};
}

struct CurlUrlDeleter {
    void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};

struct CurlFree {
    void operator()(char* p) const noexcept { curl_free(p); }
};

// The URL a backend's status is fetched from: http or https, a host, and
// nothing that would make libcurl talk to anything else.
std::string check_status_url(const std::string& url)
{
    if (url.find('\0') != std::string::npos || has_control(url))
        return cat(quote(url), " contains control characters");
    std::unique_ptr<CURLU, CurlUrlDeleter> u(curl_url());
    if (!u)
        return "out of memory";
    CURLUcode uc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0);
    if (uc != CURLUE_OK)
        return cat(quote(url), " is not a URL: ", curl_url_strerror(uc));

    auto part = [&](CURLUPart what) {
        char* p = nullptr;
        if (curl_url_get(u.get(), what, &p, 0) != CURLUE_OK)
            return std::unique_ptr<char, CurlFree>();
        return std::unique_ptr<char, CurlFree>(p);
    };
    auto scheme = part(CURLUPART_SCHEME);
    if (!scheme || (std::string_view(scheme.get()) != "http" && std::string_view(scheme.get()) != "https"))
        return cat(quote(url), " must start with http:// or https://");
    if (auto host = part(CURLUPART_HOST); !host || *host == '\0')
        return cat(quote(url), " has no host");
    if (part(CURLUPART_USER) || part(CURLUPART_PASSWORD))
        return cat(quote(url), " must not carry a user or password: use username and password");
    if (part(CURLUPART_FRAGMENT))
        return cat(quote(url), " must not have a #fragment");
    return {};
}

// The schema's region rule is implemented by core's slot formatter; it is
// asked with a probe slot whose other fields are known to be valid, so the
// rule exists in one place only.
std::string check_region(const std::string& region)
{
    static constexpr std::string_view probe_url = "http://probe.invalid/probe";
    tune_slot_fields_t s{};
    s.stream = "probe";
    s.stream_len = 5;
    s.backend = "probe";
    s.backend_len = 5;
    s.health = TUNE_HEALTH_UP;
    s.weight = 100;
    s.region = region.data();
    s.region_len = region.size();
    s.url = probe_url.data();
    s.url_len = probe_url.size();
    char line[512];
    tune_rc_t rc = TUNE_OK;
    size_t n = tune_snapshot_format_slot(line, sizeof line, &s, &rc);
    if (n == 0 || n >= sizeof line)
        return cat(quote(region), " is not a valid region: ",
            n == 0 ? tune_rc_reason(rc) : "too long", " (1..", TUNE_REGION_MAX,
            " bytes of A-Z a-z 0-9 . _ -)");
    return {};
}

std::string parse_redis_address(const std::string& s, RedisAddress& out)
{
    static constexpr std::string_view unix_prefix = "unix:";
    RedisAddress a;
    a.text = s;
    if (s.starts_with(unix_prefix)) {
        a.unix_path = s.substr(unix_prefix.size());
        if (a.unix_path.empty() || a.unix_path[0] != '/')
            return cat(quote(s), ": the socket path after \"unix:\" must be absolute");
        if (a.unix_path.size() >= 108 || has_control(a.unix_path) || a.unix_path.find('\0') != std::string::npos)
            return cat(quote(s), ": not a usable socket path (control characters, or 108 bytes or longer)");
        out = std::move(a);
        return {};
    }

    std::string_view host;
    std::string_view port;
    if (s.starts_with('[')) {
        size_t close = s.find(']');
        if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
            return cat(quote(s), " is not \"host:port\", \"[ipv6]:port\" or \"unix:/path\"");
        host = std::string_view(s).substr(1, close - 1);
        port = std::string_view(s).substr(close + 2);
        for (char c : host)
            if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'))
                return cat(quote(s), ": not an IPv6 address between the brackets");
    } else {
        size_t colon = s.rfind(':');
        if (colon == std::string::npos)
            return cat(quote(s), " is not \"host:port\", \"[ipv6]:port\" or \"unix:/path\"");
        host = std::string_view(s).substr(0, colon);
        port = std::string_view(s).substr(colon + 1);
        for (char c : host)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-'))
                return cat(quote(s), ": the host may hold only letters, digits, '.' and '-' (IPv6: \"[::1]:6379\")");
    }
    if (host.empty())
        return cat(quote(s), " has no host");
    int p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || port[0] == '+' || ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535)
        return cat(quote(s), ": the port must be 1..65535");
    a.host = std::string(host);
    a.port = p;
    out = std::move(a);
    return {};
}

std::string apply_redis_password(Config& c, std::string password)
{
    if (password.empty())
        return "must not be empty (leave the key out for no AUTH)";
    if (has_control(password) || password.find('\0') != std::string::npos)
        return "must not contain control characters";
    c.redis.password = std::move(password);
    return {};
}

// A secret's file (redis_password_file, redis_sentinel_password_file): a
// relative name is taken from the configuration file's directory, so a
// config and its secret can move together.  Only the first line counts (a
// trailing CR too is dropped); its text never goes into a message.
std::string read_secret_file(const Config& c, const std::string& name, std::string& path,
    std::string& line)
{
    if (name.empty() || has_control(name))
        return "must be a file name without control characters";
    path = name;
    if (!name.starts_with('/')) {
        size_t slash = c.path.rfind('/');
        if (slash != std::string::npos)
            path = cat(c.path.substr(0, slash + 1), name);
    }
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return cat(quote(path), ": cannot open: ", std::strerror(errno));
    std::getline(in, line);
    if (in.bad())
        return cat(quote(path), ": cannot read: ", std::strerror(errno));
    if (line.ends_with('\r'))
        line.pop_back();
    if (line.empty())
        return cat(quote(path), ": the first line (the password) is empty");
    return {};
}

std::string read_password_file(Config& c, const std::string& name)
{
    std::string path, line;
    std::string err = read_secret_file(c, name, path, line);
    if (!path.empty())
        c.redis_password_file = path;
    if (!err.empty())
        return err;
    if (err = apply_redis_password(c, std::move(line)); !err.empty())
        return cat(quote(path), ": the password ", err);
    return {};
}

std::string apply_sentinel_password(Config& c, std::string password)
{
    if (password.empty())
        return "must not be empty (leave the key out for no AUTH)";
    if (has_control(password) || password.find('\0') != std::string::npos)
        return "must not contain control characters";
    c.redis.sentinel_password = std::move(password);
    return {};
}

// One of redis_sentinels: "host:port", "[ipv6]:port", or a host alone
// (port 26379); no Unix socket.
std::string parse_sentinel_address(const std::string& s, std::pair<std::string, int>& out)
{
    bool has_port = s.starts_with('[') ? s.find("]:") != std::string::npos
                                       : s.find(':') != std::string::npos;
    RedisAddress a;
    if (s.starts_with("unix:"))
        return cat(quote(s), ": a Sentinel is reached over TCP: \"host:port\"");
    if (std::string err = parse_redis_address(has_port ? s : cat(s, ":26379"), a); !err.empty())
        return has_port ? err : cat(quote(s), ": not a host name or address");
    out = {a.host, a.port};
    return {};
}

// Like apply_duration(), and "0s" (or 0 in any unit) means "none".
std::string apply_duration_or_zero(milliseconds& out, const toml::node& node)
{
    if (const toml::value<std::string>* s = node.as_string()) {
        const std::string& t = s->get();
        if (t == "0ms" || t == "0s" || t == "0m" || t == "0h") {
            out = milliseconds(0);
            return {};
        }
    }
    return apply_duration(out, node);
}

std::string apply_count(unsigned& out, const toml::node& node)
{
    std::int64_t n = 0;
    if (std::string err = get_integer(node, 1, 100, n); !err.empty())
        return err;
    out = static_cast<unsigned>(n);
    return {};
}

constexpr milliseconds slow_start_max{3600 * 1000};

std::string apply_slow_start(milliseconds& out, const toml::node& node)
{
    if (std::string err = apply_duration_or_zero(out, node); !err.empty())
        return err;
    if (out > slow_start_max)
        return cat(out.count(), "ms is out of range 0s..1h");
    return {};
}

// A token of the HTTP listener: long enough not to be guessed, and
// printable without spaces, as it travels in a header.
std::string apply_token(std::string& into, std::string token)
{
    if (token.size() < token_min)
        return cat("must be at least ", token_min, " characters long (", token.size(), " given)");
    for (unsigned char ch : token)
        if (ch <= 0x20 || ch >= 0x7f)
            return "must be printable ASCII without spaces";
    into = std::move(token);
    return {};
}

std::string read_token_file(Config& c, const toml::node& v, std::string& into, std::string& file_into)
{
    std::string file, path, line;
    if (std::string err = get_string(v, file); !err.empty())
        return err;
    std::string err = read_secret_file(c, file, path, line);
    if (!path.empty())
        file_into = path;
    if (!err.empty())
        return err;
    if (err = apply_token(into, std::move(line)); !err.empty())
        return cat(quote(path), ": the token ", err);
    return std::string();
}

// The HTTP listener's address: numeric, so nothing is resolved.  Whether it
// is loopback is kept: beyond loopback the listener needs http_token
// (check_config()).
std::string parse_metrics_address(const std::string& s, Config& c)
{
    std::string_view host;
    std::string_view port;
    if (s.starts_with('[')) {
        size_t close = s.find(']');
        if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
            return cat(quote(s), " is not \"HOST:PORT\" or \"[IPV6]:PORT\"");
        host = std::string_view(s).substr(1, close - 1);
        port = std::string_view(s).substr(close + 2);
        in6_addr a6{};
        if (inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1)
            return cat(quote(s), ": the host must be a numeric IPv6 address in brackets");
        c.metrics_loopback = IN6_IS_ADDR_LOOPBACK(&a6);
    } else {
        size_t colon = s.rfind(':');
        if (colon == std::string::npos)
            return cat(quote(s), " is not \"127.0.0.1:PORT\" or \"[::1]:PORT\"");
        host = std::string_view(s).substr(0, colon);
        port = std::string_view(s).substr(colon + 1);
        unsigned char a[4];
        int parts = 0;
        std::string_view rest = host;
        bool ok = true;
        while (ok && parts < 4) {
            unsigned v = 0;
            auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
            ok = ec == std::errc() && end != rest.data() && v <= 255;
            a[parts++] = static_cast<unsigned char>(v);
            rest = rest.substr(static_cast<size_t>(end - rest.data()));
            if (parts < 4) {
                ok = ok && !rest.empty() && rest[0] == '.';
                rest = rest.substr(ok ? 1 : 0);
            }
        }
        if (!ok || !rest.empty() || parts != 4)
            return cat(quote(s), ": the host must be a numeric address (\"127.0.0.1\", \"[::1]\")");
        c.metrics_loopback = a[0] == 127;
    }
    int p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p < 1 || p > 65535)
        return cat(quote(s), ": the port must be 1..65535");
    c.metrics = s;
    c.metrics_host = std::string(host);
    c.metrics_port = p;
    return {};
}

const KeyDef<Config> top_keys[] = {
    {"redis", "string", false, R"("127.0.0.1:6379")",
        "where Redis listens: \"host:port\", \"[ipv6]:port\" or \"unix:/path/to/socket\"",
        [](Config& c, const toml::node& v) {
            std::string s;
            if (std::string err = get_string(v, s); !err.empty())
                return err;
            return parse_redis_address(s, c.redis);
        }},
    {"redis_user", "string", false, "",
        "the ACL user (Redis 6+) tuneslotd logs in as, with redis_password or redis_password_file",
        [](Config& c, const toml::node& v) {
            if (std::string err = get_string(v, c.redis.user); !err.empty())
                return err;
            if (c.redis.user.empty() || has_control(c.redis.user) || c.redis.user.find(' ') != std::string::npos)
                return std::string("must be a non-empty name without spaces or control characters");
            return std::string();
        }},
    {"redis_password", "string", false, "",
        "the password sent with AUTH on every connection (default: none, no AUTH)",
        [](Config& c, const toml::node& v) {
            // the value never goes into a message: it may be a real secret
            std::string s;
            if (std::string err = get_string(v, s); !err.empty())
                return err;
            return apply_redis_password(c, std::move(s));
        }},
    {"redis_password_file", "string", false, "",
        "a file whose first line is the Redis password, instead of redis_password",
        [](Config& c, const toml::node& v) {
            std::string file;
            if (std::string err = get_string(v, file); !err.empty())
                return err;
            return read_password_file(c, file);
        }},
    {"redis_db", "integer", false, "0",
        "the Redis database holding the keys, 0..65535, selected after AUTH when not 0",
        [](Config& c, const toml::node& v) {
            std::int64_t n = 0;
            if (std::string err = get_integer(v, 0, 65535, n); !err.empty())
                return err;
            c.redis.db = static_cast<int>(n);
            return std::string();
        }},
    {"redis_sentinels", "array", false, "",
        "Redis Sentinels to ask where the master is, instead of redis: [\"host:port\", ...] (port 26379 when omitted, at most 16)",
        [](Config& c, const toml::node& v) {
            const toml::array* arr = v.as_array();
            if (arr == nullptr)
                return std::string("must be an array of \"host:port\" strings");
            if (arr->empty())
                return std::string("must list at least one Sentinel (leave the key out for none)");
            if (arr->size() > TUNE_LINK_SENTINELS_MAX)
                return cat("lists ", arr->size(), " Sentinels, at most ", TUNE_LINK_SENTINELS_MAX);
            c.redis.sentinels.clear();
            for (size_t i = 0; i < arr->size(); ++i) {
                const toml::value<std::string>* item = arr->get(i)->as_string();
                if (item == nullptr)
                    return cat("entry ", i + 1, " must be a \"host:port\" string");
                std::pair<std::string, int> sentinel;
                if (std::string err = parse_sentinel_address(item->get(), sentinel); !err.empty())
                    return cat("entry ", i + 1, ": ", err);
                c.redis.sentinels.push_back(std::move(sentinel));
            }
            return std::string();
        }},
    {"redis_master_name", "string", false, "",
        "the name the Sentinels monitor the master by (sentinel monitor NAME ...); required with redis_sentinels",
        [](Config& c, const toml::node& v) {
            if (std::string err = get_string(v, c.redis.master_name); !err.empty())
                return err;
            if (const char* why = tune_link_master_name_check(c.redis.master_name.data(),
                    c.redis.master_name.size()))
                return std::string(why);
            return std::string();
        }},
    {"redis_sentinel_user", "string", false, "",
        "the ACL user tuneslotd logs in to the Sentinels as, with redis_sentinel_password(_file)",
        [](Config& c, const toml::node& v) {
            if (std::string err = get_string(v, c.redis.sentinel_user); !err.empty())
                return err;
            if (c.redis.sentinel_user.empty() || has_control(c.redis.sentinel_user)
                || c.redis.sentinel_user.find(' ') != std::string::npos)
                return std::string("must be a non-empty name without spaces or control characters");
            return std::string();
        }},
    {"redis_sentinel_password", "string", false, "",
        "the password sent with AUTH to every Sentinel (default: none)",
        [](Config& c, const toml::node& v) {
            std::string s;
            if (std::string err = get_string(v, s); !err.empty())
                return err;
            return apply_sentinel_password(c, std::move(s));
        }},
    {"redis_sentinel_password_file", "string", false, "",
        "a file whose first line is the Sentinels' password, instead of redis_sentinel_password",
        [](Config& c, const toml::node& v) {
            std::string file, path, line;
            if (std::string err = get_string(v, file); !err.empty())
                return err;
            std::string err = read_secret_file(c, file, path, line);
            if (!path.empty())
                c.redis_sentinel_password_file = path;
            if (!err.empty())
                return err;
            if (err = apply_sentinel_password(c, std::move(line)); !err.empty())
                return cat(quote(path), ": the password ", err);
            return std::string();
        }},
    {"interval", "duration", false, R"("1s")",
        "how often all backends are polled and a round is written (100ms..1h)",
        [](Config& c, const toml::node& v) {
            if (std::string err = apply_duration(c.interval, v); !err.empty())
                return err;
            if (c.interval < interval_min || c.interval > interval_max)
                return cat(c.interval.count(), "ms is out of range 100ms..1h");
            return std::string();
        }},
    {"timeout", "duration", false, "",
        "how long one poll of one backend may take (10ms..interval; default: interval)",
        [](Config& c, const toml::node& v) {
            if (std::string err = apply_duration(c.timeout, v); !err.empty())
                return err;
            if (c.timeout < timeout_min)
                return cat(c.timeout.count(), "ms is below the minimum of 10ms");
            return std::string();
        }},
    {"fail_after", "integer", false, "3",
        "failed polls in a row before a backend is down (1..100)",
        [](Config& c, const toml::node& v) { return apply_count(c.fail_after, v); }},
    {"recover_after", "integer", false, "2",
        "good polls in a row before a down backend is up again (1..100)",
        [](Config& c, const toml::node& v) { return apply_count(c.recover_after, v); }},
    {"slow_start", "duration", false, R"("30s")",
        "how long a recovered backend's weight ramps up to its full value (\"0s\": no ramp)",
        [](Config& c, const toml::node& v) { return apply_slow_start(c.slow_start, v); }},
    {"instance", "string", false, "",
        "this tuneslotd's name in the leader lease (default: hostname:pid)",
        [](Config& c, const toml::node& v) {
            if (std::string err = get_string(v, c.instance); !err.empty())
                return err;
            return check_instance_id(c.instance);
        }},
    {"metrics", "string", false, "",
        "numeric \"host:port\" of the HTTP listener: /metrics, the status page, /place (default: none;"
        " beyond loopback only with http_token)",
        [](Config& c, const toml::node& v) {
            std::string s;
            if (std::string err = get_string(v, s); !err.empty())
                return err;
            return parse_metrics_address(s, c);
        }},
    {"http_token", "string", false, "",
        "a secret every request to the HTTP listener must carry (Bearer, or basic auth's password)",
        [](Config& c, const toml::node& v) {
            std::string s;
            if (std::string err = get_string(v, s); !err.empty())
                return err;
            return apply_token(c.http_token, std::move(s));
        }},
    {"http_token_file", "string", false, "",
        "a file whose first line is http_token",
        [](Config& c, const toml::node& v) { return read_token_file(c, v, c.http_token, c.http_token_file); }},
    {"admin_token", "string", false, "",
        "a secret that allows drains from the status page (default: the page is read-only)",
        [](Config& c, const toml::node& v) {
            std::string s;
            if (std::string err = get_string(v, s); !err.empty())
                return err;
            return apply_token(c.admin_token, std::move(s));
        }},
    {"admin_token_file", "string", false, "",
        "a file whose first line is admin_token",
        [](Config& c, const toml::node& v) { return read_token_file(c, v, c.admin_token, c.admin_token_file); }},
};

constexpr StatusFormat all_formats[] = {StatusFormat::load_xsl, StatusFormat::icecast_admin,
    StatusFormat::icecast_json, StatusFormat::shoutcast1, StatusFormat::shoutcast2, StatusFormat::nginx_rtmp,
    StatusFormat::wowza, StatusFormat::mediamtx};

const KeyDef<BackendConfig> backend_keys[] = {
    {"name", "name", true, "", "the backend's name in the snapshot and in log lines",
        [](BackendConfig& b, const toml::node& v) { return apply_name(b.name, v); }},
    {"status", "URL", true, "", "the http:// or https:// URL polled for the backend's load",
        [](BackendConfig& b, const toml::node& v) {
            if (std::string err = get_string(v, b.status); !err.empty())
                return err;
            return check_status_url(b.status);
        }},
    {"format", "enum", false, R"("load-xsl")",
        "what status returns: \"load-xsl\", \"icecast-admin\", \"icecast-json\", \"shoutcast1\", \"shoutcast2\", "
        "\"nginx-rtmp\", \"wowza\" or \"mediamtx\"",
        [](BackendConfig& b, const toml::node& v) {
            std::string s;
            if (std::string err = get_string(v, s); !err.empty())
                return err;
            for (StatusFormat f : all_formats) {
                if (s == status_format_name(f)) {
                    b.format = f;
                    return std::string();
                }
            }
            return cat(quote(s), " is not a format: use \"load-xsl\", \"icecast-admin\", \"icecast-json\", "
                "\"shoutcast1\", \"shoutcast2\", \"nginx-rtmp\", \"wowza\" or \"mediamtx\"");
        }},
    {"public", "URL", true, "", "the base URL listeners are sent to; the stream's mount is appended",
        [](BackendConfig& b, const toml::node& v) {
            std::string url;
            if (std::string err = get_string(v, url); !err.empty())
                return err;
            tune_rc_t rc = tune_url_check(url.data(), url.size());
            if (rc != TUNE_OK)
                return cat(quote(url), " is not a usable listen URL base: ", tune_rc_reason(rc));
            b.public_url = std::move(url);
            return std::string();
        }},
    {"region", "string", false, R"("")", "a region label copied into the backend's slots",
        [](BackendConfig& b, const toml::node& v) {
            if (std::string err = get_string(v, b.region); !err.empty())
                return err;
            return b.region.empty() ? std::string() : check_region(b.region);
        }},
    {"weight", "integer", false, "100", "the operator's weight of the backend, 0..1000000",
        [](BackendConfig& b, const toml::node& v) {
            std::int64_t w = 0;
            if (std::string err = get_integer(v, 0, TUNE_WEIGHT_MAX, w); !err.empty())
                return err;
            b.weight = static_cast<std::uint32_t>(w);
            return std::string();
        }},
    {"max_listeners", "integer", false, "",
        "caps each mount's capacity on this backend, 0..4294967294 "
        "(required with icecast-json, nginx-rtmp and mediamtx)",
        [](BackendConfig& b, const toml::node& v) { return apply_listener_limit(b.max_listeners, v); }},
    {"max_clients", "integer", false, "",
        "caps the listeners of all mounts of this backend together, 0..4294967294",
        [](BackendConfig& b, const toml::node& v) { return apply_listener_limit(b.max_clients, v); }},
    {"username", "string", false, "",
        "HTTP auth user (icecast-admin, shoutcast1 and wowza only; default \"admin\" there)",
        [](BackendConfig& b, const toml::node& v) {
            if (std::string err = get_string(v, b.username); !err.empty())
                return err;
            if (has_control(b.username) || b.username.find(':') != std::string::npos)
                return std::string("must not contain ':' or control characters");
            return std::string();
        }},
    {"password", "string", false, "",
        "HTTP auth password (icecast-admin, shoutcast1 and wowza only, required there)",
        [](BackendConfig& b, const toml::node& v) {
            if (std::string err = get_string(v, b.password); !err.empty())
                return err;
            if (has_control(b.password))
                return std::string("must not contain control characters");
            return std::string();
        }},
    {"fail_after", "integer", false, "", "this backend's fail_after (default: the top-level one)",
        [](BackendConfig& b, const toml::node& v) {
            unsigned n = 0;
            std::string err = apply_count(n, v);
            if (err.empty())
                b.fail_after = n;
            return err;
        }},
    {"recover_after", "integer", false, "", "this backend's recover_after (default: the top-level one)",
        [](BackendConfig& b, const toml::node& v) {
            unsigned n = 0;
            std::string err = apply_count(n, v);
            if (err.empty())
                b.recover_after = n;
            return err;
        }},
    {"slow_start", "duration", false, "", "this backend's slow_start (default: the top-level one)",
        [](BackendConfig& b, const toml::node& v) {
            milliseconds d{0};
            std::string err = apply_slow_start(d, v);
            if (err.empty())
                b.slow_start = d;
            return err;
        }},
};

const KeyDef<StreamConfig> stream_keys[] = {
    {"name", "name", true, "", "the stream's name, as listeners ask for it (/tune/<name>)",
        [](StreamConfig& s, const toml::node& v) { return apply_name(s.name, v); }},
    {"mount", "string", true, "", "the stream's Icecast mount, e.g. \"/demo\", the same on every backend",
        [](StreamConfig& s, const toml::node& v) {
            std::string mount;
            if (std::string err = get_string(v, mount); !err.empty())
                return err;
            if (!mount.starts_with('/'))
                return cat(quote(mount), " must start with '/'");
            // core decides what a mount may be: join it to a base known to be good
            char url[TUNE_URL_MAX + 1];
            size_t len = 0;
            static constexpr std::string_view base = "http://probe.invalid";
            tune_rc_t rc = tune_url_join(url, sizeof url, &len, base.data(), base.size(),
                mount.data(), mount.size());
            if (rc != TUNE_OK)
                return cat(quote(mount), " is not a usable mount: ", tune_rc_reason(rc));
            s.mount = std::move(mount);
            return std::string();
        }},
};

// Sections that hold arrays of tables.
const std::string_view array_sections[] = {"backend", "stream"};

// ---- applying a table -------------------------------------------------------

template <class Target, size_t N>
void apply_table(const toml::table& table, const KeyDef<Target> (&keys)[N],
    std::string_view prefix, Target& target, Problems& problems)
{
    for (auto&& [k, v] : table) {
        bool known = false;
        for (const auto& def : keys)
            if (def.name == k.str())
                known = true;
        bool section = prefix.empty()
            && std::find(std::begin(array_sections), std::end(array_sections), k.str()) != std::end(array_sections);
        if (!known && !section)
            problems.push_back({k.source().begin, cat(prefix, k.str()), "unknown key"});
    }

    for (const auto& def : keys) {
        const toml::node* node = table.get(def.name);
        std::string err;
        if (node != nullptr) {
            err = def.apply(target, *node);
            if (!err.empty())
                problems.push_back({node->source().begin, cat(prefix, def.name), std::move(err)});
        } else if (def.required) {
            problems.push_back({table.source().begin, cat(prefix, def.name), "missing (required)"});
        } else if (!def.default_toml.empty()) {
            try {
                toml::table d = toml::parse(cat("v = ", def.default_toml));
                err = def.apply(target, *d.get("v"));
            } catch (const toml::parse_error& e) {
                err = cat("bad built-in default: ", e.description());
            }
            if (!err.empty())
                problems.push_back({table.source().begin, cat(prefix, def.name), cat("(default) ", err)});
        }
    }
}

template <class Target, size_t N>
std::vector<Target> apply_array(const toml::table& root, std::string_view section,
    const KeyDef<Target> (&keys)[N], Problems& problems)
{
    std::vector<Target> out;
    const toml::node* node = root.get(section);
    if (node == nullptr) {
        problems.push_back({{1, 1}, std::string(section), cat("no [[", section, "]] defined (at least one is required)")});
        return out;
    }
    if (!node->is_array_of_tables()) {
        problems.push_back({node->source().begin, std::string(section),
            cat("must be an array of tables: write [[", section, "]]")});
        return out;
    }
    const toml::array& arr = *node->as_array();
    for (size_t i = 0; i < arr.size(); ++i) {
        const toml::table& t = *arr[i].as_table();
        Target target;
        apply_table(t, keys, cat(section, "[", i + 1, "]."), target, problems);
        out.push_back(std::move(target));
    }
    return out;
}

// The i-th table of an array section (it exists: apply_array() made the
// config's vector from it).
const toml::table* element(const toml::table& root, std::string_view section, size_t i)
{
    return root.get(section)->as_array()->get(i)->as_table();
}

// Where a key of the i-th table of a section is, or its table when absent.
toml::source_position key_position(const toml::table& root, std::string_view section, size_t i,
    std::string_view key)
{
    const toml::table* t = element(root, section, i);
    const toml::node* n = t->get(key);
    return n != nullptr ? n->source().begin : t->source().begin;
}

// Checks across keys, after every key was applied one by one.
void check_config(Config& c, const toml::table& root, Problems& problems)
{
    if (const toml::node* t = root.get("timeout"); t == nullptr) {
        c.timeout = c.interval;
    } else if (c.timeout > c.interval && c.interval.count() > 0) {
        problems.push_back({t->source().begin, "timeout",
            cat(c.timeout.count(), "ms is longer than interval (", c.interval.count(), "ms)")});
    }

    if (const toml::node* f = root.get("redis_password_file"); f != nullptr && root.contains("redis_password"))
        problems.push_back({f->source().begin, "redis_password_file",
            "set redis_password or redis_password_file, not both"});
    if (const toml::node* u = root.get("redis_user");
        u != nullptr && !root.contains("redis_password") && !root.contains("redis_password_file"))
        problems.push_back({u->source().begin, "redis_user",
            "needs redis_password or redis_password_file (AUTH user password)"});

    // Redis Sentinel: the list replaces the address, and needs the name
    if (const toml::node* l = root.get("redis_sentinels"); l != nullptr) {
        if (const toml::node* r = root.get("redis"); r != nullptr)
            problems.push_back({r->source().begin, "redis",
                "set redis or redis_sentinels, not both (the Sentinels say where Redis is)"});
        if (!root.contains("redis_master_name"))
            problems.push_back({l->source().begin, "redis_sentinels",
                "needs redis_master_name (the name the Sentinels monitor the master by)"});
        if (!c.redis.sentinels.empty())
            c.redis.text = cat("master \"", c.redis.master_name, "\" via Sentinel");
    } else {
        for (std::string_view key : {"redis_master_name", "redis_sentinel_user", "redis_sentinel_password",
                                     "redis_sentinel_password_file"})
            if (const toml::node* n = root.get(key); n != nullptr)
                problems.push_back({n->source().begin, std::string(key), "needs redis_sentinels"});
    }
    if (const toml::node* f = root.get("redis_sentinel_password_file");
        f != nullptr && root.contains("redis_sentinel_password"))
        problems.push_back({f->source().begin, "redis_sentinel_password_file",
            "set redis_sentinel_password or redis_sentinel_password_file, not both"});
    if (const toml::node* u = root.get("redis_sentinel_user"); u != nullptr
        && !root.contains("redis_sentinel_password") && !root.contains("redis_sentinel_password_file"))
        problems.push_back({u->source().begin, "redis_sentinel_user",
            "needs redis_sentinel_password or redis_sentinel_password_file (AUTH user password)"});

    // the HTTP listener's secrets: one way each, with a listener to guard,
    // and one for each door
    for (std::string_view key : {"http_token", "admin_token"}) {
        const std::string file_key = cat(key, "_file");
        if (const toml::node* f = root.get(file_key); f != nullptr && root.contains(key))
            problems.push_back({f->source().begin, file_key, cat("set ", key, " or ", file_key, ", not both")});
        for (std::string_view k : {std::string_view(key), std::string_view(file_key)})
            if (const toml::node* n = root.get(k); n != nullptr && !root.contains("metrics"))
                problems.push_back({n->source().begin, std::string(k), "needs metrics (the listener it guards)"});
    }
    if (!c.admin_token.empty() && c.admin_token == c.http_token) {
        const char* key = root.contains("admin_token") ? "admin_token" : "admin_token_file";
        problems.push_back({root.get(key)->source().begin, key,
            "must differ from http_token (anyone who may read the page could drain)"});
    }
    if (const toml::node* m = root.get("metrics"); m != nullptr && !c.metrics.empty() && !c.metrics_loopback
        && c.http_token.empty())
        problems.push_back({m->source().begin, "metrics",
            cat(quote(c.metrics), " is not a loopback address: beyond loopback the listener needs http_token"
                " (or http_token_file), so that not everyone who reaches it may read it")});

    std::map<std::string, size_t, std::less<>> seen;
    for (size_t i = 0; i < c.backends.size(); ++i) {
        BackendConfig& b = c.backends[i];
        std::string key = cat("backend[", i + 1, "].");
        if (!b.fail_after)
            b.fail_after = c.fail_after;
        if (!b.recover_after)
            b.recover_after = c.recover_after;
        if (!b.slow_start)
            b.slow_start = c.slow_start;
        if (!b.name.empty()) {
            auto [it, fresh] = seen.emplace(b.name, i);
            if (!fresh)
                problems.push_back({key_position(root, "backend", i, "name"), cat(key, "name"),
                    cat("duplicate backend name ", quote(b.name), " (first at line ",
                        key_position(root, "backend", it->second, "name").line, ")")});
        }
        if (uses_credentials(b.format)) {
            if (b.username.empty())
                b.username = "admin";
            if (b.password.empty())
                problems.push_back({key_position(root, "backend", i, "password"), cat(key, "password"),
                    cat("missing (required with format = \"", status_format_name(b.format), "\")")});
        } else {
            for (std::string_view k : {"username", "password"})
                if (element(root, "backend", i)->contains(k))
                    problems.push_back({key_position(root, "backend", i, k), cat(key, k),
                        "only used with format = \"icecast-admin\", \"shoutcast1\" or \"wowza\""});
        }
        if (needs_max_listeners(b.format) && !element(root, "backend", i)->contains("max_listeners"))
            problems.push_back({key_position(root, "backend", i, "max_listeners"), cat(key, "max_listeners"),
                cat("missing (required with format = \"", status_format_name(b.format), "\": ",
                    b.format == StatusFormat::icecast_json ? "Icecast's status-json.xsl hides max_listeners"
                                                           : "the server reports no listener limit", ")")});
        // the password goes in an Authorization header, never in a URL that
        // ends up in access logs and in tuneslotd's own messages
        if (b.format == StatusFormat::shoutcast1 && (b.status.find("?pass=") != std::string::npos
                || b.status.find("&pass=") != std::string::npos))
            problems.push_back({key_position(root, "backend", i, "status"), cat(key, "status"),
                "must not carry pass=: set password instead (sent with HTTP basic authentication)"});
    }

    seen.clear();
    for (size_t i = 0; i < c.streams.size(); ++i) {
        StreamConfig& s = c.streams[i];
        if (!s.name.empty()) {
            auto [it, fresh] = seen.emplace(s.name, i);
            if (!fresh)
                problems.push_back({key_position(root, "stream", i, "name"), cat("stream[", i + 1, "].name"),
                    cat("duplicate stream name ", quote(s.name), " (first at line ",
                        key_position(root, "stream", it->second, "name").line, ")")});
        }
        if (s.mount.empty())
            continue;
        for (size_t j = 0; j < c.backends.size(); ++j) {
            const BackendConfig& b = c.backends[j];
            char url[TUNE_URL_MAX + 1];
            size_t len = 0;
            tune_rc_t rc = TUNE_ERR_BAD_URL;
            if (!b.public_url.empty())
                rc = tune_url_join(url, sizeof url, &len, b.public_url.data(), b.public_url.size(),
                    s.mount.data(), s.mount.size());
            if (rc == TUNE_OK) {
                s.urls.emplace_back(url, len);
            } else {
                s.urls.emplace_back();
                if (!b.public_url.empty())
                    problems.push_back({key_position(root, "backend", j, "public"), cat("backend[", j + 1, "].public"),
                        cat("cannot be joined with the mount of stream ", quote(s.name), " (", quote(s.mount),
                            "): ", tune_rc_reason(rc))});
            }
        }
    }
}

}  // namespace

std::string_view status_format_name(StatusFormat format) noexcept
{
    switch (format) {
    case StatusFormat::load_xsl: return "load-xsl";
    case StatusFormat::icecast_admin: return "icecast-admin";
    case StatusFormat::icecast_json: return "icecast-json";
    case StatusFormat::shoutcast1: return "shoutcast1";
    case StatusFormat::shoutcast2: return "shoutcast2";
    case StatusFormat::nginx_rtmp: return "nginx-rtmp";
    case StatusFormat::wowza: return "wowza";
    case StatusFormat::mediamtx: return "mediamtx";
    }
    return "?";
}

bool parse_duration(std::string_view text, milliseconds& out)
{
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
        ++digits;
    if (digits == 0 || digits > 9)
        return false;
    std::int64_t n = 0;
    std::from_chars(text.data(), text.data() + digits, n);
    std::string_view unit = text.substr(digits);
    std::int64_t scale;
    if (unit == "ms")
        scale = 1;
    else if (unit == "s")
        scale = 1000;
    else if (unit == "m")
        scale = 60 * 1000;
    else if (unit == "h")
        scale = 3600 * 1000;
    else
        return false;
    if (n <= 0)
        return false;
    out = milliseconds(n * scale);
    return true;
}

std::string check_instance_id(std::string_view id)
{
    if (id.empty() || id.size() > 128)
        return "must be 1..128 bytes";
    for (unsigned char ch : id)
        if (ch <= 0x20 || ch >= 0x7f)
            return cat(quote(id), " may hold only printable ASCII without spaces");
    return {};
}

std::string describe_counts(const Config& config)
{
    return cat(config.backends.size(), config.backends.size() == 1 ? " backend, " : " backends, ",
        config.streams.size(), config.streams.size() == 1 ? " stream" : " streams");
}

std::string describe_redis(const RedisAddress& redis)
{
    if (redis.password.empty() && redis.db == 0)
        return redis.text;
    std::string auth = redis.password.empty() ? std::string()
        : redis.user.empty()                  ? std::string("AUTH")
                                              : cat("AUTH as user ", redis.user);
    std::string db = redis.db == 0 ? std::string() : cat("db ", redis.db);
    return cat(redis.text, " (", auth, !auth.empty() && !db.empty() ? ", " : "", db, ")");
}

std::vector<std::string> readable_secrets(const Config& config)
{
    std::vector<std::string> files;
    bool in_config = (!config.redis.password.empty() && config.redis_password_file.empty())
        || (!config.redis.sentinel_password.empty() && config.redis_sentinel_password_file.empty());
    for (const BackendConfig& b : config.backends)
        in_config = in_config || !b.password.empty();
    if (in_config)
        files.push_back(config.path);
    if (!config.redis_password_file.empty())
        files.push_back(config.redis_password_file);
    if (!config.redis_sentinel_password_file.empty())
        files.push_back(config.redis_sentinel_password_file);
    if ((!config.http_token.empty() && config.http_token_file.empty())
        || (!config.admin_token.empty() && config.admin_token_file.empty()))
        if (files.empty() || files.front() != config.path)
            files.insert(files.begin(), config.path);
    for (const std::string* f : {&config.http_token_file, &config.admin_token_file})
        if (!f->empty())
            files.push_back(*f);

    std::vector<std::string> warnings;
    for (const std::string& f : files) {
        struct stat st {};
        if (::stat(f.c_str(), &st) != 0 || (st.st_mode & S_IROTH) == 0)
            continue;
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        warnings.push_back(cat(f, " holds a password and every user of this host may read it (mode ", mode,
            "): chmod 600 ", f, ", or 640 with a group only tuneslotd's user is in"));
    }
    return warnings;
}

std::vector<ConfigKey> config_keys()
{
    std::vector<ConfigKey> keys;
    auto add = [&](std::string_view section, const auto& table) {
        for (const auto& k : table)
            keys.push_back({section.empty() ? std::string(k.name) : cat(section, ".", k.name), k.type, k.required,
                k.default_toml, k.meaning});
    };
    add("", top_keys);
    add("backend", backend_keys);
    add("stream", stream_keys);
    return keys;
}

ConfigResult parse_config(std::string_view text, const std::string& path)
{
    ConfigResult result;
    toml::table root;
    try {
        root = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        const auto& at = e.source().begin;
        result.errors.push_back(cat(path, ":", at.line, ":", at.column, ": TOML syntax: ", e.description()));
        return result;
    } catch (const std::exception& e) {
        result.errors.push_back(cat(path, ": ", e.what()));
        return result;
    }

    auto config = std::make_shared<Config>();
    config->path = path;
    Problems problems;

    apply_table(root, top_keys, "", *config, problems);
    config->backends = apply_array(root, "backend", backend_keys, problems);
    config->streams = apply_array(root, "stream", stream_keys, problems);
    check_config(*config, root, problems);

    std::stable_sort(problems.begin(), problems.end(), [](const Problem& a, const Problem& b) {
        return a.where.line < b.where.line;
    });
    for (const Problem& p : problems)
        result.errors.push_back(cat(path, ":", p.where.line, ": ", p.key, ": ", p.what));
    if (result.errors.empty())
        result.config = std::move(config);
    return result;
}

ConfigResult load_config(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        ConfigResult result;
        result.errors.push_back(cat(path, ": cannot open: ", std::strerror(errno)));
        return result;
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        ConfigResult result;
        result.errors.push_back(cat(path, ": cannot read: ", std::strerror(errno)));
        return result;
    }
    return parse_config(text.str(), path);
}

}  // namespace tuneslot
