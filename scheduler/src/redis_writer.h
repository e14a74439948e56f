#pragma once

// The daemon's Redis client: writes rounds with redis/publish_round.lua
// (EVALSHA, and EVAL when Redis answers NOSCRIPT), as redis/SCHEMA.md
// specifies, keeps the writer's lease with redis/lease.lua, and reads the
// operator's drain hash.
//
// hiredis on the main thread, non-blocking under the hood: each call has one
// budget (io_timeout) that connecting, logging in, every write and read of
// the command and a retry on a new connection all share, waited for with
// poll(), so no call holds the daemon's loop longer, however slowly or
// piecemeal Redis answers (a host name is resolved by the system's resolver
// before, outside the budget).  A call Redis did not answer in time drops
// the connection, and the calls after it fail at once, without I/O, until the
// next try (tune_link's backoff, 250 ms doubling up to 4 s): a hung Redis
// costs the loop one budget every few seconds, not one per call.  Redis going away and coming
// back is logged once per change of state, not once per round.  A connection
// kept from an earlier round that Redis has closed (restart, client timeout)
// is replaced at once, so a Redis restart between two rounds costs no round.
// Every new connection logs in first (AUTH, SELECT) with the address's
// credentials; refused credentials are logged at error, once per outage, and
// retried like any failed connection.
//
// The connection's life (where to connect, the hello, failures) is core's
// tune_link machine, the one the front-ends run too; this class carries it
// out within the call's budget and words its own log lines.  Its commands
// (the scripts, HGETALL, INFO) are its own.

#include "clock.h"
#include "config.h"

#include <tune_link.h>

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tuneslot {

struct RedisContextFree {
    void operator()(redisContext* c) const noexcept { redisFree(c); }
};
using RedisContextPtr = std::unique_ptr<redisContext, RedisContextFree>;

struct RedisReplyFree {
    void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyFree>;

class RedisWriter final {
public:
    RedisWriter(RedisAddress address, std::chrono::milliseconds io_timeout);
    RedisWriter(const RedisWriter&) = delete;
    RedisWriter& operator=(const RedisWriter&) = delete;

    // Writes one round whose header says written_ms (also the least
    // generation the round may get, so generations are never reused after
    // Redis lost its keys) under the lease ("<instance> <token>"): Redis
    // refuses the round unless that lease is still the current one (stale
    // is then set).  Returns the new generation, or nullopt when the round
    // was not written (logged when Redis goes away, not every time).
    std::optional<long long> publish(std::string_view snapshot, std::int64_t written_ms,
        std::string_view lease, bool& stale);

    struct LeaseReply {
        long long token = 0;    // > 0: this instance holds the lease
        std::string lease;      // the lease's value after the call, "" when none
        // Redis answered, but with an error (an ACL without the scripts, a
        // script refused) or a reply lease.lua never gives: why, and token
        // and lease mean nothing
        std::string error;
    };
    // Runs redis/lease.lua: takes or renews the lease for ttl, or gives it
    // back when ttl is 0.  nullopt when Redis did not answer.  A refusal is
    // logged once until the script works again.
    std::optional<LeaseReply> lease(std::string_view instance, std::chrono::milliseconds ttl,
        std::int64_t token_floor);

    // HGETALL key as field/value pairs; nullopt on a failure, with refused
    // set when Redis answered, but not with a hash (WRONGTYPE: the key holds
    // something else)
    std::optional<std::vector<std::pair<std::string, std::string>>> hgetall(std::string_view key,
        std::string& refused);

    // WAIT replicas timeout: how many replicas acknowledged every write of
    // this connection so far, answered within timeout (which must be well
    // under the call's budget).  nullopt when Redis did not answer (the
    // failure handled as any call's), or answered with an error (refused
    // says it: an ACL without WAIT).
    std::optional<long long> wait_for_replicas(int replicas, std::chrono::milliseconds timeout,
        std::string& refused);

    // Whether the master is found through Sentinels, so it has replicas
    bool via_sentinel() const noexcept { return !sentinels_.empty(); }

    // One command on the connection (connecting first when needed, and once
    // more on a new connection when Redis had closed the old one).  Null
    // with why set when Redis did not answer; failures are not logged.
    RedisReplyPtr call(std::initializer_list<std::string_view> args, std::string& why);

    // A round that was not written because Redis does not answer (the
    // lease could not be kept, so none was sent): counted for the line that
    // says Redis is back
    void round_not_written() noexcept
    {
        if (!answering_)
            ++failed_rounds_;
    }

    // The next call tries Redis even if a failure has it backing off (a
    // leader's last call, giving its lease back before it exits)
    void try_now();

    // Whether the last command got an answer.
    bool up() const noexcept { return answering_; }

private:
    // A new budget of io_timeout_ for one call, its hello and its retries
    void begin_call();
    // what names the command in why ("write: timeout")
    RedisReplyPtr call_argv(const std::vector<std::string_view>& args, std::string_view what, std::string& why);
    // A new connection, through link_; false with why set
    bool connect(std::string& why);
    // ctx_ goes (failed, or closed by Redis), and link_ is told why
    void drop(const std::string& why);
    // EVALSHA, then EVAL on NOSCRIPT, through call().
    RedisReplyPtr run_script(std::string_view what, std::string_view sha, std::string_view script,
        std::initializer_list<std::string_view> keys_and_args, int nkeys, std::string& why);
    void failed(const std::string& why);

    RedisAddress address_;
    std::chrono::milliseconds io_timeout_;
    MonoClock::time_point deadline_{};     // the current call's budget ends
    // what link_ reads (pointing into address_); must outlive link_
    tune_link_conf_t link_conf_{};
    std::vector<tune_link_sentinel_t> sentinels_;   // link_conf_.sentinels
    tune_link_t link_{};
    std::string master_logged_;     // the master's address last logged
    RedisContextPtr ctx_;   // while link_ is ready
    // down: not answering; refused: answering, but not taking our AUTH
    enum class State { unknown, up, down, refused } state_ = State::unknown;
    bool refused_ = false;      // the last connect() failed at AUTH
    std::string server_version_;
    std::uint64_t failed_rounds_ = 0;
    bool answering_ = false;
    std::string lease_error_;   // the refusal of lease.lua last logged
};

}  // namespace tuneslot
