// tuneslotd: polls Icecast backends and writes their load to Redis for the
// tuneslot front-ends.  See docs/tuneslotd.md.

#include "config.h"
#include "ctl.h"
#include "daemon.h"
#include "log.h"
#include "poller.h"
#include "service_notify.h"
#include "signals.h"
#include "status_xml.h"
#include "text.h"

#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <libxml/xmlversion.h>

#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace tuneslot;

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

constexpr std::string_view usage =
    "usage: tuneslotd -c FILE [--once]\n"
    "       tuneslotd --check -c FILE\n"
    "       tuneslotd ctl -c FILE drain|undrain|status|place ...  (see tuneslotd ctl --help)\n"
    "       tuneslotd --version\n"
    "\n"
    "  -c, --config FILE  the configuration file (TOML), required\n"
    "      --check        check the configuration file and exit: status 0 when\n"
    "                     it is valid, else 1 with each problem as FILE:LINE: KEY: why\n"
    "      --once         poll one round, write it to Redis, exit\n"
    "      --version      print the versions of tuneslotd and its libraries\n"
    "  -h, --help         print this help\n";

struct Options {
    std::string config;
    bool once = false;
    bool check = false;
    bool version = false;
    bool help = false;
};

// The library versions in use at run time, where the library tells them.
std::string versions()
{
    const curl_version_info_data* curl = curl_version_info(CURLVERSION_NOW);
    // xmlParserVersion is "20914" for 2.9.14
    int xml = std::atoi(xmlParserVersion);
    return cat("libcurl ", curl != nullptr ? curl->version : "unknown", ", hiredis ", HIREDIS_MAJOR, ".",
        HIREDIS_MINOR, ".", HIREDIS_PATCH, ", libxml2 ", xml / 10000, ".", xml / 100 % 100, ".", xml % 100);
}

bool parse_args(int argc, char** argv, Options& o, std::string& error)
{
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "-c" || a == "--config") {
            if (i + 1 >= argc) {
                error = cat(a, " needs a file name");
                return false;
            }
            o.config = argv[++i];
        } else if (a.starts_with("--config=")) {
            o.config = std::string(a.substr(9));
        } else if (a == "--once") {
            o.once = true;
        } else if (a == "--check") {
            o.check = true;
        } else if (a == "--version") {
            o.version = true;
        } else if (a == "-h" || a == "--help") {
            o.help = true;
        } else {
            error = cat("unknown argument ", quote(a));
            return false;
        }
    }
    if (!o.version && !o.help && o.config.empty()) {
        error = "no configuration file given (-c FILE)";
        return false;
    }
    if (o.check && o.once) {
        error = "--check and --once exclude each other";
        return false;
    }
    return true;
}

// --check: the whole file as the daemon would load it at start or on
// SIGHUP (passwords files read, URLs checked), nothing started.  Plain
// lines for a terminal or a unit's ExecStartPre, not log lines: the
// problems on stderr, the verdict on stdout.
int check_config(const Options& o)
{
    CurlLibrary curl;       // the loader checks URLs with libcurl
    ConfigResult loaded = load_config(o.config);
    if (!loaded.config) {
        for (const std::string& e : loaded.errors)
            std::fprintf(stderr, "%s\n", e.c_str());
        std::fprintf(stderr, "tuneslotd: invalid configuration in %s\n", o.config.c_str());
        return exit_failure;
    }
    for (const std::string& w : readable_secrets(*loaded.config))
        std::fprintf(stderr, "tuneslotd: warning: %s\n", w.c_str());
    std::printf("tuneslotd: configuration %s is valid: %s\n", o.config.c_str(), describe_counts(*loaded.config).c_str());
    return exit_ok;
}

// Every backend keeps a connection (and its descriptor) between rounds, and
// Debian's default soft limit of 1024 descriptors would fail the polls of a
// thousand backends: take what the hard limit allows, and say when even
// that looks too small for the configuration.
void raise_descriptor_limit(std::size_t backends)
{
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t wanted = rl.rlim_max;
        rl.rlim_cur = wanted;
        if (::setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log::warn("cannot raise the open-file limit to ", wanted, ": ", std::strerror(errno));
        ::getrlimit(RLIMIT_NOFILE, &rl);
    }
    const std::size_t needed = 2 * backends + 64;     // a poll may overlap a keep-alive connection
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < needed)
        log::warn("the open-file limit is ", rl.rlim_cur, " but ", backends, " backends may need ", needed,
            "; raise it (ulimit -n, LimitNOFILE=) or polls will fail");
}

int run(const Options& o)
{
    Signals signals;          // first: threads created later inherit the blocked mask
    CurlLibrary curl;
    XmlLibrary xml;
    ServiceNotifier notifier = ServiceNotifier::from_environment();

    log::info("tuneslotd ", TUNESLOT_VERSION, " starting (", versions(), "), config ", o.config,
        o.once ? ", one round only" : "");

    ConfigResult loaded = load_config(o.config);
    if (!loaded.config) {
        for (const std::string& e : loaded.errors)
            log::emerg(e);
        log::emerg("invalid configuration in ", o.config, ", not started");
        return exit_failure;
    }
    const Config& c = *loaded.config;
    raise_descriptor_limit(c.backends.size());
    log::info("config: ", describe_counts(c), ", interval ", c.interval.count(),
        "ms, timeout ", c.timeout.count(), "ms, redis ", describe_redis(c.redis));
    if (notifier.enabled())
        log::info("notifying the service manager",
            notifier.watchdog().count() > 0 ? cat(", watchdog every ", notifier.watchdog().count() / 2000, "ms")
                                            : std::string());
    for (const std::string& w : readable_secrets(c))
        log::warn(w);

    Daemon daemon(loaded.config, signals, notifier);     // throws when the metrics address cannot be bound
    int status = daemon.run(o.once);
    log::info("tuneslotd exits with status ", status);
    return status;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc >= 2 && std::string_view(argv[1]) == "ctl") {
        try {
            CurlLibrary curl;       // the config loader checks URLs with libcurl
            return run_ctl(std::vector<std::string>(argv + 2, argv + argc));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "tuneslotd ctl: %s\n", e.what());
            return exit_failure;
        }
    }
    Options o;
    std::string error;
    if (!parse_args(argc, argv, o, error)) {
        std::fprintf(stderr, "tuneslotd: %s\n%.*s", error.c_str(), static_cast<int>(usage.size()), usage.data());
        return exit_usage;
    }
    if (o.help) {
        std::fwrite(usage.data(), 1, usage.size(), stdout);
        return exit_ok;
    }
    if (o.version) {
        std::printf("tuneslotd %s (%s)\n", TUNESLOT_VERSION, versions().c_str());
        return exit_ok;
    }
    try {
        if (o.check)
            return check_config(o);
        return run(o);
    } catch (const std::exception& e) {
        log::emerg(e.what());
        return exit_failure;
    }
}
