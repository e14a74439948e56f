// Unit tests of the sd_notify client: the datagrams it sends (to a socket
// the test binds, by path and in the abstract namespace), which socket names
// it refuses, the environment it takes and clears, and the keep-alive
// schedule on a fake clock.

#include "service_notify.h"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

namespace tuneslot {
namespace {

using namespace std::chrono_literals;

// The manager's end: a datagram socket bound at a fresh path (or abstract
// name), read without blocking.
class Manager final {
public:
    explicit Manager(bool abstract = false)
    {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        static int n = 0;
        name_ = abstract ? std::string("@tuneslot-unit-") + std::to_string(::getpid()) + "-" + std::to_string(++n)
                         : std::string(::testing::TempDir()) + "notify-" + std::to_string(::getpid()) + "-"
                + std::to_string(++n);
        if (!abstract)
            ::unlink(name_.c_str());
        std::memcpy(a.sun_path, name_.data(), name_.size());
        if (abstract)
            a.sun_path[0] = '\0';
        socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size() + (abstract ? 0 : 1));
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0)
            ADD_FAILURE() << "bind " << name_ << ": " << std::strerror(errno);
    }
    ~Manager()
    {
        ::close(fd_);
        if (name_[0] == '/')
            ::unlink(name_.c_str());
    }
    Manager(const Manager&) = delete;
    Manager& operator=(const Manager&) = delete;

    const std::string& name() const { return name_; }

    std::optional<std::string> next()
    {
        char buf[1024];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n < 0)
            return std::nullopt;
        return std::string(buf, static_cast<std::size_t>(n));
    }

private:
    int fd_ = -1;
    std::string name_;
};

TEST(ServiceNotify, SendsEachMessageAsOneDatagram)
{
    Manager m;
    ServiceNotifier n(m.name(), 0us);
    ASSERT_TRUE(n.enabled());

    n.ready("leader, 2/2 backends up");
    EXPECT_EQ(m.next(), "READY=1\nSTATUS=leader, 2/2 backends up");
    n.stopping();
    EXPECT_EQ(m.next(), "STOPPING=1");

    timespec before{};
    ::clock_gettime(CLOCK_MONOTONIC, &before);
    n.reloading();
    timespec after{};
    ::clock_gettime(CLOCK_MONOTONIC, &after);
    std::optional<std::string> r = m.next();
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->starts_with("RELOADING=1\nMONOTONIC_USEC=")) << *r;
    const unsigned long long usec = std::stoull(r->substr(r->find('=', 12) + 1));
    EXPECT_GE(usec, static_cast<unsigned long long>(before.tv_sec) * 1000000 + before.tv_nsec / 1000);
    EXPECT_LE(usec, static_cast<unsigned long long>(after.tv_sec) * 1000000 + after.tv_nsec / 1000);
    EXPECT_EQ(m.next(), std::nullopt);
}

TEST(ServiceNotify, AbstractSocketName)
{
    Manager m(true);
    ServiceNotifier n(m.name(), 0us);
    n.stopping();
    EXPECT_EQ(m.next(), "STOPPING=1");
}

TEST(ServiceNotify, StatusOnlyWhenItChangesAndAlwaysOneLine)
{
    Manager m;
    ServiceNotifier n(m.name(), 0us);
    n.status("standby");
    EXPECT_EQ(m.next(), "STATUS=standby");
    n.status("standby");
    EXPECT_EQ(m.next(), std::nullopt);
    // a line break in foreign text (a Redis address, an instance) would
    // start an assignment of its own
    n.status("evil\nREADY=1");
    EXPECT_EQ(m.next(), "STATUS=evil READY=1");
    n.status(std::string(5000, 'x'));
    std::optional<std::string> r = m.next();
    ASSERT_TRUE(r);
    EXPECT_LE(r->size(), 400u);
}

TEST(ServiceNotify, RefusesUnusableSocketNames)
{
    using namespace std::string_view_literals;
    for (std::string_view bad : {"relative/path"sv, "@"sv, "/"sv, "/a\0b"sv}) {
        ServiceNotifier n(bad, 0us);
        EXPECT_FALSE(n.enabled()) << bad;
        n.ready("x");       // harmless
    }
    EXPECT_FALSE(ServiceNotifier("/" + std::string(200, 'a'), 0us).enabled());
}

TEST(ServiceNotify, DisabledDoesNothing)
{
    ServiceNotifier n;
    EXPECT_FALSE(n.enabled());
    n.keep_alive(MonoClock::now());
    EXPECT_EQ(n.until_keep_alive(MonoClock::now(), 250ms), 250ms);
}

TEST(ServiceNotify, KeepAliveEveryHalfWatchdogInterval)
{
    Manager m;
    ServiceNotifier n(m.name(), 2s);
    const MonoClock::time_point t0{std::chrono::hours(1)};
    EXPECT_EQ(n.until_keep_alive(t0, 5s), 0ms);     // none sent yet: due now
    n.keep_alive(t0);
    EXPECT_EQ(m.next(), "WATCHDOG=1");
    EXPECT_EQ(n.until_keep_alive(t0, 5s), 1000ms);
    EXPECT_EQ(n.until_keep_alive(t0, 300ms), 300ms);
    n.keep_alive(t0 + 999ms);
    EXPECT_EQ(m.next(), std::nullopt);
    EXPECT_EQ(n.until_keep_alive(t0 + 999ms, 5s), 1ms);
    n.keep_alive(t0 + 1000ms);
    EXPECT_EQ(m.next(), "WATCHDOG=1");
    EXPECT_EQ(n.until_keep_alive(t0 + 3s, 5s), 0ms);
}

TEST(ServiceNotify, NoWatchdogNoKeepAlive)
{
    Manager m;
    ServiceNotifier n(m.name(), 0us);
    n.keep_alive(MonoClock::now());
    EXPECT_EQ(m.next(), std::nullopt);
    EXPECT_EQ(n.until_keep_alive(MonoClock::now(), 7s), 7s);
}

TEST(ServiceNotify, TakesTheEnvironmentAndClearsIt)
{
    Manager m;
    ::setenv("NOTIFY_SOCKET", m.name().c_str(), 1);
    ::setenv("WATCHDOG_USEC", "3000000", 1);
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    ServiceNotifier n = ServiceNotifier::from_environment();
    EXPECT_TRUE(n.enabled());
    EXPECT_EQ(n.watchdog(), 3s);
    EXPECT_EQ(std::getenv("NOTIFY_SOCKET"), nullptr);
    EXPECT_EQ(std::getenv("WATCHDOG_USEC"), nullptr);
    EXPECT_EQ(std::getenv("WATCHDOG_PID"), nullptr);
    n.stopping();
    EXPECT_EQ(m.next(), "STOPPING=1");

    // the watchdog of another process, or a value that is no number
    ::setenv("NOTIFY_SOCKET", m.name().c_str(), 1);
    ::setenv("WATCHDOG_USEC", "3000000", 1);
    ::setenv("WATCHDOG_PID", "1", 1);
    EXPECT_EQ(ServiceNotifier::from_environment().watchdog(), 0us);
    ::setenv("NOTIFY_SOCKET", m.name().c_str(), 1);
    ::setenv("WATCHDOG_USEC", "3s", 1);
    EXPECT_EQ(ServiceNotifier::from_environment().watchdog(), 0us);

    EXPECT_FALSE(ServiceNotifier::from_environment().enabled());    // nothing set any more
}

TEST(ServiceNotify, ManagerGoneIsNotFatal)
{
    std::optional<Manager> m(std::in_place);
    ServiceNotifier n(m->name(), 0us);
    m.reset();
    n.ready("x");
    n.stopping();
    EXPECT_TRUE(n.enabled());
}

}  // namespace
}  // namespace tuneslot
