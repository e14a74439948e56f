#include "signals.h"

#include <cerrno>
#include <system_error>

#include <sys/signalfd.h>
#include <unistd.h>

namespace tuneslot {

namespace {

sigset_t handled_signals() noexcept
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    return set;
}

// Runs in signal context: only async-signal-safe calls.
extern "C" void exit_now(int) noexcept
{
    static constexpr char msg[] = "tuneslotd: second stop signal, exiting now\n";
    ssize_t n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    (void) n;
    ::_exit(1);
}

}  // namespace

Signals::Signals()
{
    sigset_t set = handled_signals();
    if (int rc = pthread_sigmask(SIG_BLOCK, &set, &old_mask_); rc != 0)
        throw std::system_error(rc, std::generic_category(), "pthread_sigmask");
    fd_.reset(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd_) {
        int err = errno;
        pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
        throw std::system_error(err, std::generic_category(), "signalfd");
    }
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &old_pipe_);
}

Signals::~Signals()
{
    sigaction(SIGPIPE, &old_pipe_, nullptr);
    fd_.reset();
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

int Signals::take() noexcept
{
    signalfd_siginfo info{};
    for (;;) {
        ssize_t n = ::read(fd_.get(), &info, sizeof info);
        if (n == static_cast<ssize_t>(sizeof info))
            return static_cast<int>(info.ssi_signo);
        if (n < 0 && errno == EINTR)
            continue;
        return 0;
    }
}

void Signals::exit_on_next_stop_signal() noexcept
{
    struct sigaction now {};
    now.sa_handler = exit_now;
    sigemptyset(&now.sa_mask);
    sigaction(SIGTERM, &now, nullptr);
    sigaction(SIGINT, &now, nullptr);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace tuneslot
