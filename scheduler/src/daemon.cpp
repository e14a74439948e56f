#include "daemon.h"

#include "clock.h"
#include "log.h"
#include "round.h"
#include "snapshot.h"

#include <poll.h>

#include <cerrno>
#include <csignal>
#include <cstring>

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

}  // namespace

Daemon::Daemon(std::shared_ptr<const Config> config, Signals& signals)
    : config_(std::move(config)),
      signals_(signals),
      poller_(*config_),
      redis_(config_->redis, redis_io_timeout),
      health_(*config_)
{
}

bool Daemon::stop_requested()
{
    while (int sig = signals_.take()) {
        if (sig == SIGHUP) {
            log::notice("SIGHUP received: reloading the configuration is not supported yet; ignored");
            continue;
        }
        if (!stopping_) {
            log::notice(sig == SIGINT ? "SIGINT" : "SIGTERM", " received, exiting");
            stopping_ = true;
            signals_.exit_on_next_stop_signal();
        }
    }
    return stopping_;
}

bool Daemon::poll_round(MonoClock::time_point start)
{
    poller_.start();
    const MonoClock::time_point deadline = start + config_->timeout + round_grace;
    while (poller_.busy()) {
        if (MonoClock::now() >= deadline) {
            log::alert("poll round ran ", (config_->timeout + round_grace).count(),
                "ms, longer than its timeout allows; cutting it short");
            poller_.abort("timeout");
            break;
        }
        std::chrono::milliseconds wait = std::min<std::chrono::milliseconds>(until(deadline), 1s);
        if (poller_.step(wait, signals_.fd()) && stop_requested()) {
            poller_.abort("stopped");
            return false;
        }
    }
    return true;
}

bool Daemon::write_round(bool once)
{
    const std::vector<PollOutcome>& outcomes = poller_.outcomes();
    std::vector<BackendRound> backends;
    backends.reserve(outcomes.size());
    for (size_t i = 0; i < outcomes.size(); ++i)
        backends.push_back(evaluate(config_->backends[i], outcomes[i]));
    health_.update(backends);

    std::vector<std::string> problems;
    const std::int64_t written_ms = wall_clock_ms();
    std::string text = format_snapshot(*config_, backends, written_ms, problems);
    for (const std::string& p : problems)
        log::alert(p);

    std::optional<long long> generation = redis_.publish(text, written_ms);
    if (once && generation)
        log::info("round written: generation ", *generation);
    return generation.has_value();
}

bool Daemon::wait_until(MonoClock::time_point t)
{
    for (;;) {
        std::chrono::milliseconds left = until(t);
        if (left == 0ms)
            return true;
        pollfd p{signals_.fd(), POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(left.count()));
        if (n < 0 && errno != EINTR) {
            log::alert("poll: ", std::strerror(errno));
            return false;
        }
        if (n > 0 && stop_requested())
            return false;
    }
}

int Daemon::run(bool once)
{
    MonoClock::time_point start = MonoClock::now();
    for (;;) {
        if (!poll_round(start))
            return 0;
        bool written = write_round(once);
        if (once)
            return written ? 0 : 1;
        if (stop_requested())
            return 0;

        // Rounds start every interval; after one that overran (a slow
        // Redis), the next starts at once and the schedule restarts from it.
        MonoClock::time_point next = start + config_->interval;
        if (!wait_until(next))
            return stopping_ ? 0 : 1;
        start = std::max(next, MonoClock::now());
    }
}

}  // namespace tuneslot
