#pragma once

// Polls every backend's status URL at once with libcurl's multi interface.
//
// The Poller belongs to the main loop and is used from the main thread only.
// It owns one easy handle per backend (reused round after round, so the
// connection cache and DNS cache survive) and the multi handle.  A round is
// start(), then step() until !busy(); each transfer has the config's timeout,
// so a hung backend ends by the timeout and never delays the others.  The
// loop's own fds (signalfd, metrics) are waited on together with the
// transfers.
//
// libcurl is driven through its socket interface (curl_multi_socket_action)
// on an epoll set of the Poller's own: libcurl tells which sockets to watch,
// and each wake-up costs work for the sockets that are ready only.  With
// thousands of backends, curl_multi_perform's walk over every transfer per
// wake-up would cost more than the polling itself.
//
// What libcurl is allowed to do: http and https only, no redirects, no
// proxies (not even from the environment), no compressed bodies, a body of
// at most body_max bytes, and only the status URL of the config.

#include "config.h"
#include "unique_fd.h"

#include <curl/curl.h>
#include <poll.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tuneslot {

inline constexpr std::size_t body_max = 1024 * 1024;

struct PollOutcome {
    bool ok = false;
    std::string reason;             // !ok: "connect: Connection refused", "timeout", "HTTP 500", ...
    std::string body;               // ok: the response body (HTTP 200)
    std::int64_t polled_ms = 0;     // wall clock (unix ms) when the poll ended
    double seconds = 0;             // how long the transfer took (0 when it never ran)
};

// curl_global_init / curl_global_cleanup for the life of the object.  One per
// process, created in main before any other thread exists.
class CurlLibrary final {
public:
    CurlLibrary();
    ~CurlLibrary();
    CurlLibrary(const CurlLibrary&) = delete;
    CurlLibrary& operator=(const CurlLibrary&) = delete;
};

class Transfer;

class Poller final {
public:
    // config must outlive the Poller.  Throws std::runtime_error when libcurl
    // cannot create its handles (out of memory).
    explicit Poller(const Config& config);
    ~Poller();
    Poller(const Poller&) = delete;
    Poller& operator=(const Poller&) = delete;

    // Starts polling every backend.  The previous round's outcomes are gone.
    void start();

    // True while some poll of the round is still running.
    bool busy() const noexcept { return running_ > 0; }

    // Waits at most wait for network progress or for one of the loop's own
    // fds (events POLLIN and/or POLLOUT) to become ready, then lets the
    // transfers run.  Sets each extra fd's revents.
    void step(std::chrono::milliseconds wait, std::vector<pollfd>& extra);

    // Ends the round now: polls still running fail with reason.
    void abort(const std::string& reason);

    // One per backend, in config order; complete once !busy().
    const std::vector<PollOutcome>& outcomes() const noexcept { return outcomes_; }

private:
    struct MultiCleanup {
        void operator()(CURLM* m) const noexcept { curl_multi_cleanup(m); }
    };

    void collect();

    // libcurl's callbacks (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION)
    static int on_socket(CURL* easy, curl_socket_t s, int what, void* self, void* socketp) noexcept;
    static int on_timer(CURLM* multi, long timeout_ms, void* self) noexcept;
    // curl_multi_socket_action(), an error ends the round
    void socket_action(curl_socket_t s, int mask);

    std::unique_ptr<CURLM, MultiCleanup> multi_;
    UniqueFd epoll_;
    // when libcurl wants CURL_SOCKET_TIMEOUT; none when it set no timer
    std::optional<std::chrono::steady_clock::time_point> timer_;
    std::vector<std::unique_ptr<Transfer>> transfers_;   // index = backend's index
    std::vector<bool> active_;
    std::vector<PollOutcome> outcomes_;
    std::size_t running_ = 0;
};

}  // namespace tuneslot
