#pragma once

// The main loop: every interval, poll all backends at once, judge the
// outcomes (health over several polls, operator drains), turn them into a
// snapshot and, while this instance holds the writer's lease, write it to
// Redis; between rounds, wait on the signalfd and the metrics endpoint, and
// keep the lease.  Single-threaded; owns the poller, the Redis client, the
// lease, the health book, the health log and the metrics, all built from
// the current immutable Config.
//
// Stop signals (SIGTERM, SIGINT) are seen wherever the loop waits: polls in
// flight are abandoned (the last complete round stays in Redis), the lease
// is given back and run() returns 0.  A second stop signal ends the process
// at once.  SIGHUP reloads the configuration between two rounds: a new
// Config is parsed and checked, and swapped in only when valid; health kept
// by backend name survives it.
//
// The service manager hears of it all through the ServiceNotifier
// (service_notify.h): READY once the first round is published (or, as a
// standby, once Redis named the writer), RELOADING and READY around a reload,
// STOPPING, a STATUS line after every round, and the watchdog's keep-alive
// from wherever the loop waits.

#include "clock.h"
#include "config.h"
#include "drain.h"
#include "fleet_view.h"
#include "history.h"
#include "health.h"
#include "health_log.h"
#include "lease.h"
#include "metrics.h"
#include "metrics_server.h"
#include "poller.h"
#include "redis_writer.h"
#include "service_notify.h"
#include "signals.h"
#include "status_page.h"

#include <poll.h>

#include <deque>
#include <memory>
#include <optional>
#include <vector>

namespace tuneslot {

class Daemon final {
public:
    // Throws std::system_error when the metrics address cannot be bound.
    Daemon(std::shared_ptr<const Config> config, Signals& signals, ServiceNotifier& notifier);
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Runs rounds until stopped; with once, exactly one round.  Returns the
    // process's exit status: 0, or 1 when once and the round was not
    // written to Redis.
    int run(bool once);

private:
    // Reads pending signals; true once a stop signal has arrived.  SIGHUP
    // only marks a reload as pending.
    bool stop_requested();

    // Polls every backend; false when stopped before the round completed.
    bool poll_round(MonoClock::time_point start);

    // Judges the round, logs changes, writes it when leader; true when
    // Redis took it.
    bool write_round(bool once);
    // Serves the metrics listener and takes signals without waiting, between
    // two Redis calls of a round
    void between_calls();
    // The operator's drains from Redis, read by every instance (a standby's
    // metrics and lines say what the leader applies)
    void read_drains();
    // A standby: the generation the leader wrote last, for the status page
    void read_generation();
    // Says in Redis that this instance runs, and reads who else does
    // ({tuneslot:v1}:instances), for the status page
    void see_instances();

    // Waits until `until` or a stop signal, keeping the lease; false when
    // stopped.  Returns early (true) when this instance just became leader,
    // so it writes at once.
    bool wait_until(MonoClock::time_point t);

    // The fds to wait on besides the transfers: signalfd first, then the
    // metrics server's.
    std::vector<pollfd> wait_fds() const;
    // Acts on what wait_fds() reported; true when a stop signal arrived.
    bool dispatch(const std::vector<pollfd>& fds);

    // SIGHUP: load, check, swap in; a bad file keeps the old config.
    void reload();
    // The reload itself; false when it was refused.
    bool apply_reload();

    void keep_lease();

    // What the HTTP listener answers besides /metrics: GET /place
    // (placement.h) from the last round
    HttpRoutes routes();
    // this instance as the status page shows it
    DaemonFacts facts() const;
    // POST /drain or /undrain from the status page (admin_token): checked
    // and queued (202) for write_page_drains()
    HttpAnswer drain_from_page(const HttpRequest& request);
    // The drains the page queued, written to the drain hash before the
    // round reads it, and logged with who asked; what Redis did not take
    // waits for the next round
    void write_page_drains();

    // After a round: READY=1 the first time there is something to be
    // ready with, and the STATUS line.
    void report(const std::vector<BackendRound>& backends, std::optional<long long> generation);

    // The longest the loop may wait before it must look at the watchdog.
    std::chrono::milliseconds wait_at_most(std::chrono::milliseconds wanted) const noexcept;

    std::shared_ptr<const Config> config_;
    Signals& signals_;
    ServiceNotifier& notifier_;
    std::unique_ptr<Poller> poller_;
    std::unique_ptr<RedisWriter> redis_;
    std::unique_ptr<Lease> lease_;
    std::unique_ptr<MetricsServer> metrics_server_;
    HealthBook health_book_;
    HealthLog health_log_;
    DrainSet drains_;
    std::vector<std::string> ignored_drains_;
    std::string drain_refused_;     // why the drain hash could not be read, as logged
    Metrics metrics_;
    // the fleet as the last round left it (fleet_view.h), and its last hour
    FleetView view_;
    std::string view_json_;     // fleet_json(view_)
    ListenerHistory history_;
    // the last round this instance wrote
    std::optional<long long> generation_;
    std::int64_t written_ms_ = 0;
    // the instances standing by, as last seen in Redis (this one included)
    std::vector<std::string> standbys_;
    // drains asked for on the status page, not yet written
    struct PageDrain {
        bool drain;             // else undrain
        std::string field;      // of the drain hash
        std::string note;
        std::string who;        // "ADDR:PORT", or "USER at ADDR:PORT"
    };
    static constexpr std::size_t page_drains_max = 64;
    std::deque<PageDrain> page_drains_;
    bool stopping_ = false;
    bool reload_pending_ = false;
    bool ready_ = false;        // READY=1 sent
};

// The instance id: config.instance, or "hostname:pid".
std::string instance_id(const Config& config);

}  // namespace tuneslot
