#pragma once

// Writes rounds to Redis with redis/publish_round.lua (EVALSHA, and EVAL
// when Redis answers NOSCRIPT), as redis/SCHEMA.md specifies.
//
// Synchronous hiredis on the main thread, with a connect timeout and a
// command timeout (io_timeout) so that a hung Redis delays a round by at most
// about two timeouts and never wedges the loop.  A connection that failed is
// dropped; the next publish() connects again.  Redis going away and coming
// back is logged once per change of state, not once per round.  A connection
// kept from an earlier round that Redis has closed (restart, client timeout)
// is replaced at once, so a Redis restart between two rounds costs no round.

#include "config.h"

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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
    // Redis lost its keys).  Returns the new generation, or nullopt when the
    // round was not written (logged when Redis goes away, not every time).
    std::optional<long long> publish(std::string_view snapshot, std::int64_t written_ms);

private:
    bool connect(std::string& why);
    // EVALSHA, then EVAL on NOSCRIPT; null on an I/O error.
    RedisReplyPtr run_script(std::string_view snapshot, std::string_view floor);
    void failed(const std::string& why);

    RedisAddress address_;
    std::chrono::milliseconds io_timeout_;
    RedisContextPtr ctx_;
    enum class State { unknown, up, down } state_ = State::unknown;
    std::string server_version_;
    std::uint64_t failed_rounds_ = 0;
};

}  // namespace tuneslot
