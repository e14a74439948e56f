#pragma once

// Tells the service manager (systemd) how the daemon is doing, with the
// sd_notify protocol (sd_notify(3)): each message is one datagram of
// newline-separated KEY=VALUE assignments to the AF_UNIX socket named by
// $NOTIFY_SOCKET.  No libsystemd: the protocol is that one datagram.
//
//   READY=1        start-up is over: the first round is published, or, as
//                  a standby, Redis was reached.  Also after a reload.
//   RELOADING=1    a SIGHUP is being acted on, with MONOTONIC_USEC= (the
//                  CLOCK_MONOTONIC time it began), until the next READY=1.
//   STOPPING=1     a stop signal arrived.
//   STATUS=...     one line for `systemctl status`.
//   WATCHDOG=1     the loop is alive; sent every half of $WATCHDOG_USEC
//                  from the event loop, so a loop that is stuck stops
//                  sending and systemd restarts the service.
//
// Without $NOTIFY_SOCKET (not started by systemd with Type=notify) every
// call does nothing.  A datagram that cannot be sent is logged once and
// never stops the daemon.  Main thread only.

#include "clock.h"
#include "unique_fd.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <string>
#include <string_view>

namespace tuneslot {

class ServiceNotifier final {
public:
    // Not connected to any service manager: every call does nothing.
    ServiceNotifier() noexcept = default;

    // socket: an absolute path, or "@name" for the abstract namespace (as
    // systemd writes it).  watchdog: WATCHDOG_USEC, zero when off.  A
    // socket name that cannot be used is logged and leaves it off.
    ServiceNotifier(std::string_view socket, std::chrono::microseconds watchdog);

    // From $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID (the watchdog
    // only when that PID, if set, is ours), then unsets all three so that
    // nothing this process might start takes them for its own.
    static ServiceNotifier from_environment();

    ServiceNotifier(ServiceNotifier&&) noexcept = default;
    ServiceNotifier& operator=(ServiceNotifier&&) noexcept = default;
    ServiceNotifier(const ServiceNotifier&) = delete;
    ServiceNotifier& operator=(const ServiceNotifier&) = delete;

    bool enabled() const noexcept { return static_cast<bool>(fd_); }

    // READY=1 with the status line; false when it could not be sent (the
    // caller tries again later: a lost READY=1 fails the start).
    bool ready(std::string_view status);
    // RELOADING=1 and MONOTONIC_USEC=now.
    void reloading();
    void stopping();
    // STATUS=line, only when it differs from the last one sent.
    void status(std::string_view line);

    // WATCHDOG=1 when half the watchdog interval has passed since the last
    // one (or none was sent yet).
    void keep_alive(MonoClock::time_point now);
    // How long the loop may wait before keep_alive() must run again;
    // `longest` when there is no watchdog.
    std::chrono::milliseconds until_keep_alive(MonoClock::time_point now,
        std::chrono::milliseconds longest) const noexcept;

    std::chrono::microseconds watchdog() const noexcept { return watchdog_; }

private:
    bool send(std::string_view message) noexcept;

    UniqueFd fd_;
    sockaddr_un address_{};
    socklen_t address_size_ = 0;
    std::chrono::microseconds watchdog_{0};
    MonoClock::time_point next_keep_alive_{};
    std::string status_;
    bool send_failed_ = false;      // logged once
};

}  // namespace tuneslot
