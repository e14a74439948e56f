#include "daemon.h"

#include "clock.h"
#include "contract.h"
#include "drain.h"
#include "log.h"
#include "placement.h"
#include "round.h"
#include "snapshot.h"
#include "status_page.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>

namespace tuneslot {

namespace {

using namespace std::chrono_literals;

// Redis gets this long to connect and, separately, to answer a command.
constexpr std::chrono::milliseconds redis_io_timeout = 1s;

// libcurl enforces each poll's timeout; if a round still runs this much
// longer, something is broken and the round is cut short.
constexpr std::chrono::milliseconds round_grace = 1s;

std::chrono::milliseconds until(MonoClock::time_point t)
{
    auto left = std::chrono::ceil<std::chrono::milliseconds>(t - MonoClock::now());
    return left < 0ms ? 0ms : left;
}

// The page may load nothing from anywhere, nor be framed: what it needs is
// inline, and it fetches only from the listener that served it
constexpr char page_headers[] =
    "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n";
constexpr char json_headers[] = "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n";

std::unique_ptr<MetricsServer> make_metrics_server(const Config& config, const Metrics& metrics, HttpRoutes routes)
{
    if (config.metrics.empty())
        return nullptr;
    return std::make_unique<MetricsServer>(config.metrics_host, config.metrics_port,
        [&metrics] { return metrics.text(); }, std::move(routes), config.http_token);
}

// "21:50:01Z": when a round ended, for the status line
std::string utc_time_of_day(std::int64_t ms)
{
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm t{};
    ::gmtime_r(&seconds, &t);
    char text[16];
    std::strftime(text, sizeof text, "%H:%M:%SZ", &t);
    return text;
}

}  // namespace

std::string instance_id(const Config& config)
{
    if (!config.instance.empty())
        return config.instance;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        std::strcpy(host, "localhost");
    std::string id = cat(host, ":", ::getpid());
    for (char& ch : id)
        if (static_cast<unsigned char>(ch) <= 0x20 || static_cast<unsigned char>(ch) >= 0x7f)
            ch = '_';
    return id;
}

Daemon::Daemon(std::shared_ptr<const Config> config, Signals& signals, ServiceNotifier& notifier)
    : config_(std::move(config)),
      signals_(signals),
      notifier_(notifier),
      poller_(std::make_unique<Poller>(*config_)),
      redis_(std::make_unique<RedisWriter>(config_->redis, redis_io_timeout)),
      lease_(std::make_unique<Lease>(instance_id(*config_), config_->interval)),
      metrics_server_(make_metrics_server(*config_, metrics_, routes()))
{
    view_ = fleet_view_unpolled(*config_);
    view_json_ = fleet_json(view_);
    log::info("instance ", lease_->instance(), ", lease ttl ", lease_->ttl().count(), "ms",
        config_->metrics.empty() ? std::string() : cat(", metrics on http://", config_->metrics, "/metrics"));
}

HttpRoutes Daemon::routes()
{
    return [this](const HttpRequest& r) -> std::optional<HttpAnswer> {
        if (r.method == "POST") {
            if (r.path != "/drain" && r.path != "/undrain")
                return HttpAnswer{"405 Method Not Allowed", "text/plain", "only GET here\n"};
            return drain_from_page(r);
        }
        if (r.path == "/" || r.path == "/status")
            return HttpAnswer{"200 OK", "text/html; charset=utf-8", std::string(status_html()), page_headers};
        if (r.path == "/status.json")
            return HttpAnswer{"200 OK", "application/json", status_json(view_json_, facts()), json_headers};
        if (r.path == "/history.json")
            return HttpAnswer{"200 OK", "application/json", history_.json(), json_headers};
        if (r.path != "/place")
            return std::nullopt;
        std::string why;
        std::optional<PlaceQuery> q = parse_place_query(r.query, why);
        if (!q)
            return HttpAnswer{"400 Bad Request", "text/plain; charset=utf-8", cat(why, "\n")};
        const PlaceAnswer a = place(view_.backends, *q);
        if (q->text)
            return HttpAnswer{"200 OK", "text/plain; charset=utf-8", place_text(a, *q), json_headers};
        return HttpAnswer{"200 OK", "application/json", place_json(a, *q), json_headers};
    };
}

HttpAnswer Daemon::drain_from_page(const HttpRequest& r)
{
    auto refuse = [](std::string_view status, std::string_view why) {
        return HttpAnswer{std::string(status), "text/plain; charset=utf-8", cat(why, "\n"), json_headers};
    };
    if (config_->admin_token.empty())
        return refuse("403 Forbidden", "drains from the page are off: tuneslotd has no admin_token");
    // the same origin: a page of this listener, not a form of another site
    if (r.origin.empty() || r.host.empty() || r.origin != cat("http://", r.host))
        return refuse("403 Forbidden", "only from this listener's own page (Origin and Host differ)");
    if (!same_secret(r.admin, config_->admin_token))
        return refuse("403 Forbidden", "X-Tuneslot-Admin does not carry the admin token");
    std::string why;
    std::optional<std::map<std::string, std::string>> form = parse_form(r.body, why);
    if (!form)
        return refuse("400 Bad Request", why);
    const bool drain = r.path == "/drain";
    for (const auto& [name, value] : *form)
        if (name != "backend" && name != "mount" && !(drain && name == "note"))
            return refuse("400 Bad Request",
                cat("unknown field ", quote(name), drain ? ": backend, mount and note" : ": backend and mount"));
    auto field_of = [&form](const char* name) {
        auto it = form->find(name);
        return it == form->end() ? std::string() : it->second;
    };
    const std::string backend = field_of("backend");
    const std::string mount = field_of("mount");
    const std::string note = field_of("note");
    if (why = check_drain_request(*config_, backend, mount, note); !why.empty())
        return refuse("400 Bad Request", why);
    if (page_drains_.size() >= page_drains_max)
        return refuse("503 Service Unavailable", "too many drains waiting for Redis; try again after a round");

    // written with the next round, not here: nothing a client sends holds
    // up the daemon's loop for a Redis call
    const std::string field = drain_field(backend, mount);
    page_drains_.push_back({drain, field, note, r.user.empty() ? r.peer : cat(r.user, " at ", r.peer)});
    return HttpAnswer{"202 Accepted", "application/json",
        cat("{\"field\":", json_quote(field), ",\"draining\":", drain ? "true" : "false",
            ",\"applied\":\"with the next round\"}\n"),
        json_headers};
}

void Daemon::write_page_drains()
{
    while (!page_drains_.empty() && redis_->up()) {
        const PageDrain& d = page_drains_.front();
        std::string why;
        RedisReplyPtr reply = d.drain ? redis_->call({"HSET", contract::key_drain, d.field, d.note}, why)
                                      : redis_->call({"HDEL", contract::key_drain, d.field}, why);
        between_calls();
        if (!reply)
            return;     // Redis went away: the rest waits for the next round
        if (reply->type == REDIS_REPLY_ERROR)
            log::warn("drain: ", d.field, " from the status page by ", d.who, " not written: ",
                printable(std::string_view(reply->str, reply->len), 200));
        else if (d.drain)
            log::notice("drain: ", d.field, " drained from the status page by ", d.who,
                d.note.empty() ? std::string() : cat(" (", d.note, ")"));
        else
            log::notice("drain: ", d.field, " undrained from the status page by ", d.who);
        page_drains_.pop_front();
    }
}

DaemonFacts Daemon::facts() const
{
    DaemonFacts f;
    f.instance = lease_->instance();
    f.version = TUNESLOT_VERSION;
    f.leader = lease_->leader();
    f.holder = lease_->leader() ? lease_->value() : lease_->holder();
    f.redis = describe_redis(config_->redis);
    f.redis_up = redis_->up();
    f.generation = generation_;
    f.written_ms = written_ms_;
    f.interval_ms = config_->interval.count();
    f.now_ms = wall_clock_ms();
    f.admin = !config_->admin_token.empty();
    f.standbys = standbys_;
    return f;
}

bool Daemon::stop_requested()
{
    while (int sig = signals_.take()) {
        if (sig == SIGHUP) {
            reload_pending_ = true;
            continue;
        }
        if (!stopping_) {
            log::notice(sig == SIGINT ? "SIGINT" : "SIGTERM", " received, exiting");
            notifier_.stopping();
            stopping_ = true;
            signals_.exit_on_next_stop_signal();
        }
    }
    return stopping_;
}

std::vector<pollfd> Daemon::wait_fds() const
{
    std::vector<pollfd> fds{{signals_.fd(), POLLIN, 0}};
    if (metrics_server_)
        metrics_server_->add_fds(fds);
    return fds;
}

bool Daemon::dispatch(const std::vector<pollfd>& fds)
{
    if (metrics_server_)
        metrics_server_->handle(fds);
    return fds[0].revents != 0 && stop_requested();
}

bool Daemon::poll_round(MonoClock::time_point start)
{
    poller_->start();
    const MonoClock::time_point deadline = start + config_->timeout + round_grace;
    MonoClock::time_point next_tick = MonoClock::now() + lease_->tick_interval();
    while (poller_->busy()) {
        if (MonoClock::now() >= deadline) {
            log::alert("poll round ran ", (config_->timeout + round_grace).count(),
                "ms, longer than its timeout allows; cutting it short");
            poller_->abort("timeout");
            break;
        }
        // A round may last a whole interval (a hung backend, timeout =
        // interval): the lease is kept through it, so a leader's does not
        // lapse and a follower sees a dead leader's expire within a tick.
        if (MonoClock::now() >= next_tick) {
            keep_lease();
            next_tick = MonoClock::now() + lease_->tick_interval();
        }
        // wake up now and then even without traffic, so metrics clients
        // past their deadline are dropped
        std::chrono::milliseconds wait =
            wait_at_most(std::min<std::chrono::milliseconds>({until(deadline), until(next_tick), 250ms}));
        std::vector<pollfd> fds = wait_fds();
        poller_->step(wait, fds);
        notifier_.keep_alive(MonoClock::now());
        if (dispatch(fds)) {
            poller_->abort("stopped");
            return false;
        }
    }
    return true;
}

std::chrono::milliseconds Daemon::wait_at_most(std::chrono::milliseconds wanted) const noexcept
{
    return notifier_.until_keep_alive(MonoClock::now(), wanted);
}

void Daemon::between_calls()
{
    // Each Redis call holds the loop for one budget at most; between two,
    // metrics clients are answered and signals taken, so a slow Redis never
    // holds the loop for a round's several calls in a row.
    std::vector<pollfd> fds = wait_fds();
    if (::poll(fds.data(), fds.size(), 0) > 0)
        (void) dispatch(fds);
    notifier_.keep_alive(MonoClock::now());
}

void Daemon::keep_lease()
{
    lease_->tick(*redis_);
    metrics_.set_leader(lease_->leader());
    metrics_.set_redis_up(redis_->up());
    // a Redis call may block for its timeouts (a slow name lookup longer):
    // the loop goes on, so the watchdog hears so between two calls
    notifier_.keep_alive(MonoClock::now());
}

bool Daemon::write_round(bool once)
{
    const MonoClock::time_point now = MonoClock::now();
    const std::vector<PollOutcome>& outcomes = poller_->outcomes();
    std::vector<BackendRound> polls;
    polls.reserve(outcomes.size());
    for (size_t i = 0; i < outcomes.size(); ++i)
        polls.push_back(evaluate(config_->backends[i], outcomes[i]));
    std::vector<BackendRound> backends = health_book_.observe(*config_, polls, now);

    // the lease right before writing
    keep_lease();
    between_calls();
    see_instances();
    if (redis_->up()) {
        write_page_drains();
        read_drains();
        between_calls();
    }
    apply_drains(*config_, drains_, backends);
    view_ = fleet_view(*config_, outcomes, backends, drains_, wall_clock_ms());
    view_json_ = fleet_json(view_);
    history_.record(view_);
    health_log_.update(*config_, backends);
    metrics_.round(*config_, outcomes, polls, backends);

    if (!lease_->leader()) {
        read_generation();
        redis_->round_not_written();
        if (once && redis_->up())
            log::warn("round not written: the writer's lease is held by another instance");
        report(backends, std::nullopt);
        return false;
    }

    std::vector<std::string> problems;
    const std::int64_t written_ms = wall_clock_ms();
    std::string text = format_snapshot(*config_, backends, written_ms, problems);
    for (const std::string& p : problems)
        log::alert(p);

    bool stale = false;
    std::optional<long long> generation = redis_->publish(text, written_ms, lease_->value(), stale);
    notifier_.keep_alive(MonoClock::now());
    if (stale) {
        // our lease is gone (expired in a stall, FLUSHALL): take it again
        // if it is free, and write this round after all
        lease_->lost("Redis refused the round: stale lease");
        between_calls();
        keep_lease();
        between_calls();
        if (lease_->leader())
            generation = redis_->publish(text, written_ms, lease_->value(), stale);
    }
    metrics_.set_redis_up(redis_->up());
    if (generation) {
        metrics_.written();
        generation_ = *generation;
        written_ms_ = written_ms;
    }
    if (once && generation)
        log::info("round written: generation ", *generation);
    report(backends, generation);
    return generation.has_value();
}

void Daemon::see_instances()
{
    if (!redis_->up())
        return;
    const std::int64_t now = wall_clock_ms();
    const std::int64_t interval = config_->interval.count();
    const std::string me = lease_->holder_id();
    std::string why;
    redis_->call({"HSET", contract::key_instances, me, cat(now, lease_->leader() ? " leader" : " standby")}, why);
    between_calls();
    redis_->call({"PEXPIRE", contract::key_instances, cat(10 * interval)}, why);
    between_calls();
    std::string refused;
    auto pairs = redis_->hgetall(contract::key_instances, refused);
    between_calls();
    if (!pairs)
        return;
    standbys_.clear();
    for (const auto& [holder, value] : *pairs) {
        const std::int64_t seen = std::atoll(value.c_str());
        if (seen < now - 10 * interval && lease_->leader()) {
            redis_->call({"HDEL", contract::key_instances, holder}, why);
            between_calls();
        }
        // the writer is named by the lease; the others seen lately stand by
        if (seen >= now - 3 * interval && !value.ends_with(" leader") && holder != me)
            standbys_.push_back(holder.substr(0, holder.find('#')));
        else if (holder == me && !lease_->leader())
            standbys_.push_back(lease_->instance());
    }
    std::sort(standbys_.begin(), standbys_.end());
}

void Daemon::read_generation()
{
    if (!redis_->up())
        return;
    std::string why;
    RedisReplyPtr g = redis_->call({"GET", contract::key_generation}, why);
    between_calls();
    if (g && g->type == REDIS_REPLY_STRING) {
        generation_ = std::atoll(std::string(g->str, g->len).c_str());
        written_ms_ = 0;
    }
}

void Daemon::read_drains()
{
    std::string refused;
    auto pairs = redis_->hgetall(contract::key_drain, refused);
    if (!pairs) {
        // Redis away: said by the writer's lines.  A key that is no hash
        // (an operator's SET by hand) leaves the drains as they were.
        if (!refused.empty() && refused != drain_refused_)
            log::warn("drain: ", contract::key_drain, " cannot be read (", refused,
                "); the drains read before stay in force");
        drain_refused_ = std::move(refused);
        return;
    }
    if (!drain_refused_.empty()) {
        log::notice("drain: ", contract::key_drain, " is read again");
        drain_refused_.clear();
    }
    std::vector<std::string> ignored;
    DrainSet drains = parse_drains(*config_, *pairs, ignored);
    log_drain_changes(drains_, drains);
    if (ignored != ignored_drains_) {
        for (const std::string& f : ignored)
            log::warn("drain: field \"", printable(f, 200), "\" names no configured backend or mount; ignored");
        ignored_drains_ = std::move(ignored);
    }
    drains_ = std::move(drains);
}

void Daemon::report(const std::vector<BackendRound>& backends, std::optional<long long> generation)
{
    if (!notifier_.enabled())
        return;
    std::size_t up = 0;
    for (const BackendRound& b : backends)
        up += b.health != TUNE_HEALTH_DOWN;
    const std::string round = cat(up, "/", backends.size(), " backends up, last round ",
        utc_time_of_day(wall_clock_ms()));
    // "<instance>#<nonce> <token>": the instance is what an operator named
    const std::string& holder = lease_->holder();
    const bool standby = redis_->up() && !lease_->leader() && !holder.empty();
    std::string line;
    if (generation)
        line = cat("leader, ", round, " written as generation ", *generation);
    else if (!redis_->up())
        line = cat("Redis ", config_->redis.text, " does not answer, rounds are not written; ", round);
    else if (lease_->leader())
        line = cat("leader, ", round, " not written");
    else if (standby)
        line = cat("standby (writer: ", std::string_view(holder).substr(0, holder.find('#')), "), ", round);
    else
        // Redis answers, but refused the lease script (an ACL without it)
        line = cat("Redis ", config_->redis.text, " answers but the writer's lease cannot be taken (see the log), "
            "rounds are not written; ", round);

    // ready: a round is out, or, as a standby, another instance writes;
    // until systemd has heard it, try again after every round
    if (!ready_ && (generation || standby))
        ready_ = notifier_.ready(line);
    else
        notifier_.status(line);
}

bool Daemon::wait_until(MonoClock::time_point t)
{
    MonoClock::time_point next_tick = MonoClock::now() + lease_->tick_interval();
    for (;;) {
        if (reload_pending_)
            reload();
        std::chrono::milliseconds left = until(t);
        if (left == 0ms)
            return true;
        if (MonoClock::now() >= next_tick) {
            const bool was_leader = lease_->leader();
            keep_lease();
            next_tick = MonoClock::now() + lease_->tick_interval();
            if (!was_leader && lease_->leader())
                return true;    // taken over: write a round now
        }
        std::vector<pollfd> fds = wait_fds();
        const auto wait = wait_at_most(std::min(left, until(next_tick)));
        int n = ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
        notifier_.keep_alive(MonoClock::now());
        if (n < 0 && errno != EINTR) {
            log::alert("poll: ", std::strerror(errno));
            return false;
        }
        if (n < 0)
            continue;
        if (dispatch(fds))
            return false;
    }
}

void Daemon::reload()
{
    reload_pending_ = false;
    log::notice("SIGHUP received: reloading ", config_->path);
    // systemd holds `systemctl reload` until READY=1; before the first one
    // the service is still starting, and a reload is part of that
    if (ready_) {
        notifier_.reloading();
        // the status line says so until the next round replaces it
        notifier_.ready(apply_reload() ? "configuration reloaded"
                                       : "reload refused (see the log): the configuration loaded before is in force");
    } else {
        apply_reload();
    }
}

bool Daemon::apply_reload()
{
    ConfigResult loaded = load_config(config_->path);
    if (!loaded.config) {
        for (const std::string& e : loaded.errors)
            log::warn(e);
        log::warn("reload refused: invalid configuration in ", config_->path, "; keeping the one loaded before");
        return false;
    }
    std::shared_ptr<const Config> next = loaded.config;

    // everything that can fail first, so a failure changes nothing
    std::unique_ptr<MetricsServer> metrics_server;
    std::unique_ptr<Poller> poller;
    try {
        if (next->metrics != config_->metrics)
            metrics_server = make_metrics_server(*next, metrics_, routes());
        poller = std::make_unique<Poller>(*next);
    } catch (const std::exception& e) {
        log::warn("reload refused: ", e.what(), "; keeping the configuration loaded before");
        return false;
    }

    const std::string id = instance_id(*next);
    // another Redis or database: the lease there is another one; new
    // credentials alone (a rotated password) only need a new connection
    // (with Sentinels: the same master name at other Sentinels is another
    // Redis too)
    const bool redis_changed = next->redis.text != config_->redis.text || next->redis.db != config_->redis.db
        || next->redis.sentinels != config_->redis.sentinels;
    const bool login_changed = next->redis.user != config_->redis.user
        || next->redis.password != config_->redis.password
        || next->redis.sentinel_user != config_->redis.sentinel_user
        || next->redis.sentinel_password != config_->redis.sentinel_password;
    if (redis_changed || id != lease_->instance()) {
        lease_->release(*redis_);
        lease_ = std::make_unique<Lease>(id, next->interval);
        metrics_.set_leader(false);
    } else {
        lease_->set_interval(next->interval);
    }
    if (redis_changed || login_changed)
        redis_ = std::make_unique<RedisWriter>(next->redis, redis_io_timeout);
    if (next->metrics != config_->metrics)
        metrics_server_ = std::move(metrics_server);
    else if (metrics_server_)
        metrics_server_->set_token(next->http_token);
    poller_ = std::move(poller);
    config_ = std::move(next);

    const Config& c = *config_;
    log::notice("config reloaded: ", describe_counts(c), ", interval ", c.interval.count(),
        "ms, timeout ", c.timeout.count(), "ms, redis ", describe_redis(c.redis));
    for (const std::string& w : readable_secrets(c))
        log::warn(w);
    return true;
}

int Daemon::run(bool once)
{
    MonoClock::time_point start = MonoClock::now();
    int status = 0;
    for (;;) {
        if (!poll_round(start))
            break;
        bool written = write_round(once);
        if (once) {
            lease_->release(*redis_);
            return written ? 0 : 1;
        }
        if (stop_requested())
            break;

        // Rounds start every interval; after one that overran (a slow
        // Redis), the next starts at once and the schedule restarts from it.
        // A follower that takes the lease over starts one at once, too.
        MonoClock::time_point next = start + config_->interval;
        if (!wait_until(next)) {
            // a stop signal, or the loop failed (poll()): either way the
            // lease is given back, so a standby need not wait for it to
            // expire
            status = stopping_ ? 0 : 1;
            break;
        }
        start = MonoClock::now();
    }
    lease_->release(*redis_);
    return status;
}

}  // namespace tuneslot
