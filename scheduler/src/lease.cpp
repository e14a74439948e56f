#include "lease.h"

#include "clock.h"
#include "log.h"

#include <algorithm>
#include <cstdio>
#include <random>

namespace tuneslot {

namespace {

std::string with_nonce(const std::string& instance)
{
    std::random_device rd;
    const unsigned long long nonce = (static_cast<unsigned long long>(rd()) << 32) ^ rd();
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", nonce);
    return cat(instance, "#", hex);
}

}  // namespace

Lease::Lease(std::string instance, std::chrono::milliseconds interval)
    : instance_(std::move(instance)), holder_id_(with_nonce(instance_))
{
    set_interval(interval);
}

void Lease::set_interval(std::chrono::milliseconds interval) noexcept
{
    ttl_ = interval * 3 / 2;
    tick_ = std::max<std::chrono::milliseconds>(interval / 4, std::chrono::milliseconds(25));
}

bool Lease::tick(RedisWriter& redis)
{
    std::optional<RedisWriter::LeaseReply> r = redis.lease(holder_id_, ttl_, wall_clock_ms());
    if (!r) {
        // Redis away: our lease, if any, will expire there too; stop
        // writing now rather than risk a stale round (the script would
        // refuse it anyway).
        if (leader())
            lost("redis does not answer");
        return false;
    }
    if (!r->error.empty()) {
        // Redis answers, but the lease cannot be renewed: as good as lost;
        // and who holds it is not known (the status line says the lease
        // cannot be taken, not "standby")
        if (leader())
            lost(cat("lease.lua: ", r->error));
        holder_.clear();
        return false;
    }
    if (r->token > 0) {
        const bool taken = r->token != token_;
        if (!leader())
            log::notice("leader: this instance (", holder_id_, ") holds the lease, token ", r->token,
                "; writing rounds");
        else if (taken)
            log::notice("leader: lease taken again with token ", r->token, " (Redis had lost it)");
        token_ = r->token;
        value_ = std::move(r->lease);
        holder_.clear();
        if (taken)
            replicate(redis);
        return true;
    }
    if (leader())
        lost(r->lease.empty() ? std::string("lease gone") : cat("now held by ", r->lease));
    if (r->lease != holder_) {
        if (!r->lease.empty())
            log::info("follower: lease held by ", r->lease, "; not writing");
        holder_ = std::move(r->lease);
    }
    return false;
}

// A lease just taken on a master with replicas (found through Sentinels):
// wait, briefly, for one to have it.  A failover right after a takeover then
// promotes a replica that knows the lease and its fencing counter, so the
// next token beats this one by Redis's own count, not only by the clocks
// (lease.lua's floor, the unix time in ms).  Renewals need no wait: only the
// token must survive, and it does not change.  Nothing waits longer than
// the short timeout, and a replica that does not answer in time (lagging, or
// none in reach: min-replicas-to-write then refuses the rounds anyway) is
// told, not fatal.
void Lease::replicate(RedisWriter& redis)
{
    if (!redis.via_sentinel())
        return;
    std::string refused;
    std::optional<long long> acked = redis.wait_for_replicas(1, replica_wait, refused);
    if (!refused.empty()) {
        if (refused != wait_refused_)
            log::warn("leader: WAIT refused (", refused, "); the lease is not waited for on a replica "
                "(give tuneslotd's user +wait, redis/acl.example)");
        wait_refused_ = refused;
        return;
    }
    wait_refused_.clear();
    if (!acked)
        return;
    if (*acked > 0)
        log::info("leader: the lease reached ", *acked, " replica(s)");
    else
        log::warn("leader: no replica acknowledged the lease within ", replica_wait.count(),
            "ms; a failover now could lose it (the next token still beats this one by the clock)");
}

void Lease::lost(std::string_view why)
{
    if (!leader())
        return;
    log::warn("leader: lease lost (", why, "); not writing until it is taken again");
    token_ = 0;
    value_.clear();
}

void Lease::release(RedisWriter& redis)
{
    if (!leader())
        return;
    // the last call of this lease: one try now, even while a failure of
    // the round before has the connection backing off
    redis.try_now();
    std::optional<RedisWriter::LeaseReply> r =
        redis.lease(holder_id_, std::chrono::milliseconds(0), wall_clock_ms());
    // lease.lua answers with the lease left after the call: "" once ours is
    // gone, another's value when another instance took it over meanwhile
    if (r && r->error.empty() && r->lease.empty())
        log::info("leader: lease given back");
    else if (r && r->error.empty())
        log::notice("leader: lease already held by ", r->lease, "; nothing to give back");
    else
        log::warn("leader: lease not given back (", r ? cat("lease.lua: ", r->error) : std::string("redis does not answer"),
            "); it expires within ", ttl_.count(), "ms");
    token_ = 0;
    value_.clear();
}

}  // namespace tuneslot
