// Unit tests of the health state machine: fail_after, recover_after, what
// the snapshot shows in between, and the slow start's weight ramp, on a fake
// clock.

#include "health.h"

#include <gtest/gtest.h>

namespace tuneslot {
namespace {

using namespace std::chrono_literals;

const MonoClock::time_point t0{};

BackendRound good(std::uint32_t listeners, std::int64_t polled_ms, std::uint32_t weight = 100)
{
    BackendRound r;
    r.health = TUNE_HEALTH_UP;
    r.polled_ms = polled_ms;
    r.weight = weight;
    r.mounts["/demo"] = MountStats{listeners, 10, 10 - listeners};
    return r;
}

BackendRound bad(std::string reason, std::int64_t polled_ms, std::uint32_t weight = 100)
{
    BackendRound r;
    r.health = TUNE_HEALTH_DOWN;
    r.reason = std::move(reason);
    r.polled_ms = polled_ms;
    r.weight = weight;
    return r;
}

HealthPolicy policy(unsigned fail_after, unsigned recover_after, std::chrono::milliseconds slow_start)
{
    HealthPolicy p;
    p.fail_after = fail_after;
    p.recover_after = recover_after;
    p.slow_start = slow_start;
    return p;
}

TEST(Health, FirstPollDecidesAtOnce)
{
    BackendHealth up;
    EXPECT_EQ(up.observe(good(1, 10), policy(3, 2, 30s), t0).health, TUNE_HEALTH_UP);
    EXPECT_EQ(up.observe(good(1, 20), policy(3, 2, 30s), t0).weight, 100u);   // seen up at start: no ramp

    BackendHealth down;
    BackendRound shown = down.observe(bad("timeout", 10), policy(3, 2, 30s), t0);
    EXPECT_EQ(shown.health, TUNE_HEALTH_DOWN);
    EXPECT_EQ(shown.reason, "timeout");
}

TEST(Health, DownOnlyAfterFailAfterFailuresInARowShowingLastGoodMeanwhile)
{
    BackendHealth h;
    const HealthPolicy p = policy(3, 2, 0ms);
    h.observe(good(4, 100), p, t0);
    for (int i = 1; i <= 2; ++i) {
        BackendRound shown = h.observe(bad("connect: Connection refused", 100 + i), p, t0);
        EXPECT_EQ(shown.health, TUNE_HEALTH_UP) << i;
        EXPECT_EQ(shown.polled_ms, 100) << "the last good poll, so readers see its age";
        EXPECT_EQ(shown.mounts.at("/demo").listeners, 4u);
        EXPECT_EQ(h.failures(), static_cast<unsigned>(i));
    }
    BackendRound shown = h.observe(bad("connect: Connection refused", 103), p, t0);
    EXPECT_EQ(shown.health, TUNE_HEALTH_DOWN);
    EXPECT_EQ(shown.reason, "connect: Connection refused");
    EXPECT_EQ(shown.polled_ms, 103);
    EXPECT_TRUE(shown.mounts.empty());
}

TEST(Health, AGoodPollResetsTheFailureCount)
{
    BackendHealth h;
    const HealthPolicy p = policy(2, 1, 0ms);
    h.observe(good(1, 1), p, t0);
    h.observe(bad("timeout", 2), p, t0);
    h.observe(good(2, 3), p, t0);
    EXPECT_EQ(h.observe(bad("timeout", 4), p, t0).health, TUNE_HEALTH_UP);
    EXPECT_EQ(h.observe(bad("timeout", 5), p, t0).health, TUNE_HEALTH_DOWN);
}

TEST(Health, UpOnlyAfterRecoverAfterGoodPollsInARow)
{
    BackendHealth h;
    const HealthPolicy p = policy(1, 3, 0ms);
    h.observe(bad("HTTP 500", 1), p, t0);
    EXPECT_EQ(h.observe(good(0, 2), p, t0).health, TUNE_HEALTH_DOWN);
    EXPECT_EQ(h.observe(good(0, 3), p, t0).health, TUNE_HEALTH_DOWN);
    BackendRound still = h.observe(bad("timeout", 4), p, t0);   // starts over
    EXPECT_EQ(still.health, TUNE_HEALTH_DOWN);
    EXPECT_EQ(still.reason, "timeout");
    EXPECT_EQ(h.observe(good(0, 5), p, t0).health, TUNE_HEALTH_DOWN);
    BackendRound recovering = h.observe(good(0, 6), p, t0);
    EXPECT_EQ(recovering.health, TUNE_HEALTH_DOWN);
    EXPECT_EQ(recovering.reason, "timeout") << "the reason is kept until it is up";
    BackendRound up = h.observe(good(7, 7), p, t0);
    EXPECT_EQ(up.health, TUNE_HEALTH_UP);
    EXPECT_EQ(up.mounts.at("/demo").listeners, 7u);
    EXPECT_EQ(up.weight, 100u);     // slow start off
}

TEST(Health, SlowStartRampsTheWeightAfterRecovery)
{
    BackendHealth h;
    const HealthPolicy p = policy(1, 1, 10s);
    h.observe(good(0, 1, 200), p, t0);
    h.observe(bad("timeout", 2, 200), p, t0);
    BackendRound back = h.observe(good(0, 3, 200), p, t0 + 1s);
    EXPECT_EQ(back.health, TUNE_HEALTH_UP);
    EXPECT_EQ(back.weight, 1u) << "at least 1: a recovered backend gets some listeners";
    EXPECT_EQ(h.observe(good(0, 4, 200), p, t0 + 3500ms).weight, 50u);     // 2.5 s of 10 s
    EXPECT_NEAR(h.ramp(), 0.25, 1e-9);
    EXPECT_EQ(h.observe(good(0, 5, 200), p, t0 + 6s).weight, 100u);
    EXPECT_EQ(h.observe(good(0, 6, 200), p, t0 + 11s).weight, 200u);
    EXPECT_EQ(h.observe(good(0, 7, 200), p, t0 + 12s).weight, 200u);
    EXPECT_DOUBLE_EQ(h.ramp(), 1.0);
}

TEST(Health, GoingDownAgainEndsTheRamp)
{
    BackendHealth h;
    const HealthPolicy p = policy(1, 1, 10s);
    h.observe(bad("timeout", 1), p, t0);
    h.observe(good(0, 2), p, t0);
    EXPECT_EQ(h.observe(bad("timeout", 3), p, t0 + 1s).health, TUNE_HEALTH_DOWN);
    EXPECT_EQ(h.observe(good(0, 4), p, t0 + 20s).weight, 1u) << "a new ramp from the new recovery";
}

TEST(Health, RampedWeightEdges)
{
    EXPECT_EQ(ramped_weight(0, 1s, 10s), 0u) << "weight 0 stays 0: never offered";
    EXPECT_EQ(ramped_weight(100, 0ms, 10s), 1u);
    EXPECT_EQ(ramped_weight(100, 10s, 10s), 100u);
    EXPECT_EQ(ramped_weight(1000000, 9999ms, 10s), 999900u);
    EXPECT_EQ(ramped_weight(100, 5s, 0ms), 100u);
}

TEST(HealthBook, KeepsHealthByNameAcrossConfigs)
{
    Config a;
    a.backends.resize(2);
    a.backends[0].name = "x";
    a.backends[1].name = "y";
    for (BackendConfig& b : a.backends) {
        b.fail_after = 2;
        b.recover_after = 1;
        b.slow_start = 0ms;
    }
    HealthBook book;
    book.observe(a, {good(1, 1), good(1, 1)}, t0);
    book.observe(a, {bad("timeout", 2), good(1, 2)}, t0);

    Config b;     // reloaded: y first, x second, a new z
    b.backends = {a.backends[1], a.backends[0], a.backends[0]};
    b.backends[2].name = "z";
    std::vector<BackendRound> shown = book.observe(b, {good(1, 3), bad("timeout", 3), bad("timeout", 3)}, t0);
    EXPECT_EQ(shown[0].health, TUNE_HEALTH_UP);
    EXPECT_EQ(shown[1].health, TUNE_HEALTH_DOWN) << "x's failure count survived the reload";
    EXPECT_EQ(shown[2].health, TUNE_HEALTH_DOWN) << "z is new: down from its first failed poll";
    ASSERT_NE(book.find("x"), nullptr);
    EXPECT_FALSE(book.find("x")->up());
}

}  // namespace
}  // namespace tuneslot
