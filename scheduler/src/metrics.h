#pragma once

// What tuneslotd tells Prometheus: the state of the last round (per backend
// up/down, draining, poll latency, per slot listeners, capacity and free
// slots), counters since start (poll errors by reason, rounds written) and
// the daemon's own state (leader, Redis answering).  Rendered in the
// Prometheus text format 0.0.4 by MetricsServer on GET /metrics.
//
// Main thread only.  Label values are backend and stream names (names by
// docs/names.md never need escaping) and a fixed set of error reasons, so
// the number of series is bounded by the configuration.

#include "config.h"
#include "poller.h"
#include "round.h"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace tuneslot {

// The class of a poll's failure reason for the errors counter: "timeout",
// "connect", "resolve", "http", "tls", "network", "body_too_large",
// "empty_reply", "parse" or "other".
std::string_view poll_error_class(std::string_view reason) noexcept;

class Metrics final {
public:
    Metrics() = default;
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // One round: outcomes[i] (the transfer), polls[i] (the poll judged by
    // its format) and shown[i] (what the snapshot says, after health and
    // drains) belong to config.backends[i].
    void round(const Config& config, const std::vector<PollOutcome>& outcomes,
        const std::vector<BackendRound>& polls, const std::vector<BackendRound>& shown);

    void written() noexcept { ++rounds_written_; }
    void set_leader(bool leader) noexcept { leader_ = leader; }
    void set_redis_up(bool up) noexcept { redis_up_ = up; }

    // The Prometheus text.
    std::string text() const;

private:
    struct Slot {
        std::string stream;
        const char* health;
        std::uint32_t listeners;
        std::uint32_t capacity;   // TUNE_UNLIMITED: +Inf
        std::uint32_t free;
    };
    struct Backend {
        std::string name;
        bool up = false;
        bool draining = false;
        double latency_s = 0;
        std::uint32_t weight = 0;
        unsigned failing = 0;     // failed polls in a row, up to now
        std::vector<Slot> slots;
    };

    std::vector<Backend> backends_;
    std::map<std::pair<std::string, std::string>, std::uint64_t> poll_errors_;   // (backend, class)
    std::map<std::string, unsigned> failing_;     // backend -> failed polls in a row
    std::uint64_t rounds_ = 0;
    std::uint64_t rounds_written_ = 0;
    bool leader_ = false;
    bool redis_up_ = false;
};

}  // namespace tuneslot
