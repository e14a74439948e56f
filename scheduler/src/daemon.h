#pragma once

// The main loop: every interval, poll all backends at once, turn the
// outcomes into a snapshot, write it to Redis; between rounds, wait on the
// signalfd.  Single-threaded; owns the poller, the Redis writer and the
// health log, all built from one immutable Config.
//
// Stop signals (SIGTERM, SIGINT) are seen wherever the loop waits: polls in
// flight are abandoned (the last complete round stays in Redis) and run()
// returns 0.  A second stop signal ends the process at once.

#include "clock.h"
#include "config.h"
#include "health_log.h"
#include "poller.h"
#include "redis_writer.h"
#include "signals.h"

#include <memory>

namespace tuneslot {

class Daemon final {
public:
    Daemon(std::shared_ptr<const Config> config, Signals& signals);
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Runs rounds until stopped; with once, exactly one round.  Returns the
    // process's exit status: 0, or 1 when once and the round was not
    // written to Redis.
    int run(bool once);

private:
    // Reads pending signals; true once a stop signal has arrived.
    bool stop_requested();

    // Polls every backend; false when stopped before the round completed.
    bool poll_round(MonoClock::time_point start);

    // Evaluates, logs changes, writes the round; true when Redis took it.
    bool write_round(bool once);

    // Waits until `until` or a stop signal; false when stopped.
    bool wait_until(MonoClock::time_point t);

    std::shared_ptr<const Config> config_;
    Signals& signals_;
    Poller poller_;
    RedisWriter redis_;
    HealthLog health_;
    bool stopping_ = false;
};

}  // namespace tuneslot
