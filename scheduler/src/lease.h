#pragma once

// The writer's lease: of all tuneslotd running with one configuration, only
// the holder of {tuneslot:v1}:leader writes rounds (redis/lease.lua,
// redis/SCHEMA.md).  Every instance polls, so a follower that takes over has
// its backends' health at hand; it just does not write.
//
// The lease lives for ttl = 1.5 intervals and its holder renews it at every
// tick (several per interval), so a holder that dies is replaced within two
// intervals, while a live one has half an interval of slack.  Each new lease
// gets a fencing token from a counter that only grows (with the caller's
// clock as its floor, so a Redis restart or FLUSHALL never brings an old
// token back), and publish_round.lua refuses a round whose lease is not the
// current one.  Gaining and losing the lease are logged, once each.
//
// Main thread only; uses the daemon's RedisWriter for its calls.

#include "redis_writer.h"

#include <chrono>
#include <string>

namespace tuneslot {

class Lease final {
public:
    // instance: the configured id ("host:pid" by default).  The lease holds
    // it with a random suffix of this process's own, so two processes given
    // the same id (one config file on several hosts, --once beside the
    // daemon) can never both hold the lease or give back each other's.
    Lease(std::string instance, std::chrono::milliseconds interval);
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    // Takes or renews the lease; true when this instance holds it now.
    bool tick(RedisWriter& redis);

    // Gives the lease back (clean exit), so a follower need not wait for it
    // to expire.
    void release(RedisWriter& redis);

    // After a round was refused as stale: the lease is gone.
    void lost(std::string_view why);

    void set_interval(std::chrono::milliseconds interval) noexcept;

    bool leader() const noexcept { return token_ > 0; }
    long long token() const noexcept { return token_; }
    // "<instance> <token>" while leader, for publish_round.lua.
    const std::string& value() const noexcept { return value_; }
    const std::string& instance() const noexcept { return instance_; }
    // instance() and this process's nonce: the lease's holder when it holds it
    const std::string& holder_id() const noexcept { return holder_id_; }
    // The lease's value while another instance holds it, "" when unknown.
    const std::string& holder() const noexcept { return holder_; }
    std::chrono::milliseconds ttl() const noexcept { return ttl_; }
    // How often to tick while waiting between rounds.
    std::chrono::milliseconds tick_interval() const noexcept { return tick_; }

private:
    // how long a lease just taken is waited for on a replica (WAIT): far
    // under a Redis call's budget and an interval
    static constexpr std::chrono::milliseconds replica_wait{100};

    void replicate(RedisWriter& redis);

    std::string instance_;
    std::string holder_id_;     // instance_ + "#" + this process's nonce
    std::chrono::milliseconds ttl_{0};
    std::chrono::milliseconds tick_{0};
    long long token_ = 0;
    std::string value_;
    std::string holder_;        // who holds it when we do not (for the log)
    std::string wait_refused_;  // WAIT's refusal last logged
};

}  // namespace tuneslot
