#include "service_notify.h"

#include "log.h"
#include "text.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace tuneslot {

namespace {

using namespace std::chrono_literals;

// systemd shows STATUS= in one line of `systemctl status`
constexpr std::size_t status_max = 300;

// "123456": a whole positive number, else 0
std::uint64_t parse_positive(const char* text) noexcept
{
    if (text == nullptr)
        return 0;
    std::string_view s(text);
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size())
        return 0;
    return value;
}

std::uint64_t monotonic_usec() noexcept
{
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

ServiceNotifier::ServiceNotifier(std::string_view socket, std::chrono::microseconds watchdog)
{
    // an abstract socket's name starts with a NUL instead of the '@'
    const bool abstract = socket.starts_with('@');
    if (!(abstract || socket.starts_with('/')) || socket.size() < 2
        || socket.size() > sizeof address_.sun_path - (abstract ? 0 : 1)
        || socket.find('\0') != std::string_view::npos) {
        log::warn("NOTIFY_SOCKET ", quote(socket), " is neither an absolute path nor an abstract socket name "
            "(@name) that fits; not notifying the service manager");
        return;
    }
    address_.sun_family = AF_UNIX;
    std::memcpy(address_.sun_path, socket.data(), socket.size());
    if (abstract)
        address_.sun_path[0] = '\0';
    // an abstract name is exactly its bytes; a path ends at its NUL
    address_size_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket.size() + (abstract ? 0 : 1));

    fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd_) {
        log::warn("cannot notify the service manager: socket: ", std::strerror(errno));
        return;
    }
    watchdog_ = std::max(watchdog, std::chrono::microseconds(0));
}

ServiceNotifier ServiceNotifier::from_environment()
{
    const char* socket = std::getenv("NOTIFY_SOCKET");
    std::chrono::microseconds watchdog{parse_positive(std::getenv("WATCHDOG_USEC"))};
    // the watchdog is meant for the process WATCHDOG_PID names, when set
    const std::uint64_t pid = parse_positive(std::getenv("WATCHDOG_PID"));
    if (pid != 0 && pid != static_cast<std::uint64_t>(::getpid()))
        watchdog = 0us;
    ServiceNotifier notifier;
    if (socket != nullptr && socket[0] != '\0')
        notifier = ServiceNotifier(socket, watchdog);
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    return notifier;
}

bool ServiceNotifier::send(std::string_view message) noexcept
{
    if (!fd_)
        return false;
    ssize_t n;
    do
        n = ::sendto(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL,
            reinterpret_cast<const sockaddr*>(&address_), address_size_);
    while (n < 0 && errno == EINTR);
    if (n >= 0) {
        send_failed_ = false;
        return true;
    }
    // the manager went away, or its queue is full: nothing the daemon can
    // do about it, and nothing it should stop for
    if (!send_failed_)
        log::warn("cannot notify the service manager: ", std::strerror(errno));
    send_failed_ = true;
    return false;
}

bool ServiceNotifier::ready(std::string_view status)
{
    if (!fd_)
        return false;
    status_ = printable(status, status_max);
    return send(cat("READY=1\nSTATUS=", status_));
}

void ServiceNotifier::reloading()
{
    if (!fd_)
        return;
    send(cat("RELOADING=1\nMONOTONIC_USEC=", monotonic_usec()));
}

void ServiceNotifier::stopping()
{
    if (!fd_)
        return;
    send("STOPPING=1");
}

void ServiceNotifier::status(std::string_view line)
{
    if (!fd_)
        return;
    std::string next = printable(line, status_max);
    if (next == status_)
        return;
    status_ = std::move(next);
    send(cat("STATUS=", status_));
}

void ServiceNotifier::keep_alive(MonoClock::time_point now)
{
    if (!fd_ || watchdog_ == 0us || now < next_keep_alive_)
        return;
    send("WATCHDOG=1");
    next_keep_alive_ = now + std::chrono::duration_cast<MonoClock::duration>(watchdog_ / 2);
}

std::chrono::milliseconds ServiceNotifier::until_keep_alive(MonoClock::time_point now,
    std::chrono::milliseconds longest) const noexcept
{
    if (!fd_ || watchdog_ == 0us)
        return longest;
    if (now >= next_keep_alive_)
        return 0ms;
    return std::min(longest, std::chrono::ceil<std::chrono::milliseconds>(next_keep_alive_ - now));
}

}  // namespace tuneslot
