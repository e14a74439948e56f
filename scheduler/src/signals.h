#pragma once

// The signals the daemon acts on, delivered through a signalfd that the main
// loop waits on with everything else: SIGTERM and SIGINT (stop), SIGHUP
// (reload the configuration between two rounds).  SIGPIPE is ignored
// (hiredis writes to sockets that may be closed).
//
// Construct it in main before any thread exists (libcurl's resolver
// threads inherit the blocked mask, so only the signalfd sees the signals).

#include "unique_fd.h"

#include <csignal>

namespace tuneslot {

class Signals final {
public:
    // Blocks the signals and opens the signalfd; throws std::system_error.
    Signals();
    // Closes the signalfd, restores the old signal mask and SIGPIPE.
    ~Signals();
    Signals(const Signals&) = delete;
    Signals& operator=(const Signals&) = delete;

    int fd() const noexcept { return fd_.get(); }

    // The next pending signal's number, or 0 when none is pending.
    int take() noexcept;

    // After the first stop signal: from now on another SIGTERM or SIGINT
    // ends the process at once (exit status 1), even while the loop is
    // inside a blocking call.
    void exit_on_next_stop_signal() noexcept;

private:
    UniqueFd fd_;
    sigset_t old_mask_{};
    struct sigaction old_pipe_{};
};

}  // namespace tuneslot
