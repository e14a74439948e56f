// Unit tests of the operator's limits over reported counts.

#include "load_limits.h"

#include <tune_snapshot.h>

#include <gtest/gtest.h>

namespace tuneslot {
namespace {

constexpr std::uint32_t unlimited = TUNE_UNLIMITED;

ParseResult reported(std::initializer_list<std::pair<const char*, MountStats>> mounts)
{
    ParseResult r;
    r.ok = true;
    for (const auto& [name, m] : mounts)
        r.mounts.emplace(name, m);
    return r;
}

::testing::AssertionResult is(const ParseResult& r, const char* mount, std::uint32_t listeners,
    std::uint32_t capacity, std::uint32_t free)
{
    const MountStats& m = r.mounts.at(mount);
    if (m.listeners == listeners && m.capacity == capacity && m.free == free)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << mount << ": " << m.listeners << "/" << m.capacity << "/" << m.free
                                         << ", expected " << listeners << "/" << capacity << "/" << free;
}

TEST(LoadLimits, NoLimitsChangeNothing)
{
    ParseResult r = reported({{"/a", {3, 10, 7}}, {"/u", {2, unlimited, unlimited}}});
    apply_limits(r, unlimited, unlimited);
    EXPECT_TRUE(is(r, "/a", 3, 10, 7));
    EXPECT_TRUE(is(r, "/u", 2, unlimited, unlimited));
}

TEST(LoadLimits, MaxListenersCapsCapacityAndFree)
{
    ParseResult r = reported({{"/a", {3, 10, 7}}, {"/u", {2, unlimited, unlimited}}, {"/over", {9, 10, 1}}});
    apply_limits(r, 5, unlimited);
    EXPECT_TRUE(is(r, "/a", 3, 5, 2));
    EXPECT_TRUE(is(r, "/u", 2, 5, 3));
    EXPECT_TRUE(is(r, "/over", 9, 5, 0));
}

TEST(LoadLimits, MaxListenersAboveReportedKeepsReported)
{
    ParseResult r = reported({{"/a", {3, 10, 7}}});
    apply_limits(r, 100, unlimited);
    EXPECT_TRUE(is(r, "/a", 3, 10, 7));
}

TEST(LoadLimits, ClassicLoadXslKeepsItsFreeSlotsUnderTheCap)
{
    // listeners unknown (0): free slots are what is known
    ParseResult r = reported({{"/a", {0, 40, 40}}});
    apply_limits(r, 25, unlimited);
    EXPECT_TRUE(is(r, "/a", 0, 25, 25));
}

TEST(LoadLimits, MaxClientsSharesTheServerBetweenMounts)
{
    ParseResult r = reported({{"/a", {30, 100, 70}}, {"/b", {15, unlimited, unlimited}}});
    apply_limits(r, unlimited, 50);
    EXPECT_TRUE(is(r, "/a", 30, 100, 5));
    EXPECT_TRUE(is(r, "/b", 15, unlimited, 5));
}

TEST(LoadLimits, FullServerLeavesNoFreeSlot)
{
    ParseResult r = reported({{"/a", {30, 100, 70}}, {"/b", {30, 100, 70}}});
    apply_limits(r, unlimited, 50);
    EXPECT_TRUE(is(r, "/a", 30, 100, 0));
    EXPECT_TRUE(is(r, "/b", 30, 100, 0));
}

TEST(LoadLimits, ReportedServerFiguresCount)
{
    // SHOUTcast 2: the server counts listeners of mounts without a source
    // too, and has its own maximum
    ParseResult r = reported({{"/a", {5, 50, 45}}});
    r.server = ServerStats{90, 100};
    apply_limits(r, unlimited, unlimited);
    EXPECT_TRUE(is(r, "/a", 5, 50, 10));

    r = reported({{"/a", {5, 50, 45}}});
    r.server = ServerStats{90, 100};
    apply_limits(r, unlimited, 92);
    EXPECT_TRUE(is(r, "/a", 5, 50, 2));
}

TEST(LoadLimits, TheServerAsAWholeIsReturned)
{
    // the sum of the mounts against max_clients; none known: unlimited
    ParseResult r = reported({{"/a", {30, 100, 70}}, {"/b", {15, unlimited, unlimited}}});
    ServerStats s = apply_limits(r, unlimited, 50);
    EXPECT_EQ(s.listeners, 45u);
    EXPECT_EQ(s.capacity, 50u);
    s = apply_limits(r, unlimited, unlimited);
    EXPECT_EQ(s.listeners, 45u);
    EXPECT_EQ(s.capacity, unlimited);

    // the server's own figures, under max_clients
    r = reported({{"/a", {5, 50, 45}}});
    r.server = ServerStats{90, 100};
    s = apply_limits(r, unlimited, 92);
    EXPECT_EQ(s.listeners, 90u);
    EXPECT_EQ(s.capacity, 92u);

    // a sum past what a count holds stays a count
    r = reported({{"/a", {4000000000u, unlimited, unlimited}}, {"/b", {4000000000u, unlimited, unlimited}}});
    s = apply_limits(r, unlimited, unlimited);
    EXPECT_EQ(s.listeners, 4294967294u);
}

TEST(LoadLimits, HugeSumsDoNotOverflow)
{
    ParseResult r = reported({{"/a", {4000000000u, unlimited, unlimited}}, {"/b", {4000000000u, unlimited, unlimited}}});
    apply_limits(r, unlimited, 4294967294u);
    EXPECT_TRUE(is(r, "/a", 4000000000u, unlimited, 0));
}

}  // namespace
}  // namespace tuneslot
