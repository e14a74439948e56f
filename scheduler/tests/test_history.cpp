// Unit tests of the status page's listener history (history.h).

#include "history.h"

#include <tune_snapshot.h>

#include <gtest/gtest.h>

namespace tuneslot {
namespace {

constexpr std::int64_t T0 = 1'800'000'000'000;     // a step starts here
constexpr std::int64_t step = ListenerHistory::step_ms;

// a view of backends (name, health, listeners) and one stream "s" counting them all
FleetView view(std::int64_t at, std::initializer_list<std::tuple<const char*, const char*, std::uint32_t>> backends)
{
    FleetView v;
    v.round_ms = at;
    FleetStream s;
    s.name = "s";
    for (const auto& [name, health, listeners] : backends) {
        FleetBackend b;
        b.name = name;
        b.health = health;
        b.listeners = listeners;
        v.backends.push_back(b);
        s.listeners += listeners;
    }
    v.streams.push_back(s);
    return v;
}

TEST(History, OnePointPerStepHoldingItsLastRound)
{
    ListenerHistory h;
    h.record(view(T0 + 100, {{"a", "up", 1}}));
    h.record(view(T0 + 900, {{"a", "up", 2}}));
    h.record(view(T0 + step + 5, {{"a", "up", 3}}));
    EXPECT_EQ(h.json(), "{\"step_ms\":10000,\"t\":[1800000000000,1800000010000],"
                        "\"streams\":{\"s\":[2,3]},\"backends\":{\"a\":[2,3]}}\n");
}

TEST(History, SeriesComeAndGoAligned)
{
    ListenerHistory h;
    h.record(view(T0, {{"a", "up", 1}}));
    // b added by a reload: no points before; a down: a gap
    h.record(view(T0 + step, {{"a", "down", 0}, {"b", "draining", 7}}));
    // a removed by a reload: its series goes
    h.record(view(T0 + 2 * step, {{"b", "up", 8}}));
    EXPECT_EQ(h.json(), "{\"step_ms\":10000,\"t\":[1800000000000,1800000010000,1800000020000],"
                        "\"streams\":{\"s\":[1,7,8]},\"backends\":{\"b\":[null,7,8]}}\n");
}

TEST(History, AnHourAtMost)
{
    ListenerHistory h;
    for (std::int64_t i = 0; i < 400; ++i)
        h.record(view(T0 + i * step, {{"a", "up", static_cast<std::uint32_t>(i)}}));
    EXPECT_EQ(h.size(), ListenerHistory::points);
    const std::string j = h.json();
    EXPECT_NE(j.find("\"t\":[1800000400000,"), std::string::npos) << j.substr(0, 80);
    EXPECT_NE(j.find("\"a\":[40,41,"), std::string::npos);
}

TEST(History, AClockSteppedBack)
{
    ListenerHistory h;
    h.record(view(T0 + 2 * step, {{"a", "up", 5}}));
    // within a step: the point stands
    h.record(view(T0 + step + 9000, {{"a", "up", 6}}));
    EXPECT_EQ(h.size(), 1u);
    EXPECT_NE(h.json().find("\"a\":[5]"), std::string::npos);
    // further (a clock set ahead, then corrected): the history starts again
    h.record(view(T0 - 3600'000, {{"a", "up", 7}}));
    EXPECT_EQ(h.json(), "{\"step_ms\":10000,\"t\":[1799996400000],\"streams\":{\"s\":[7]},\"backends\":{\"a\":[7]}}\n");
    h.record(view(T0 - 3600'000 + step, {{"a", "up", 8}}));
    EXPECT_EQ(h.size(), 2u);
}

}  // namespace
}  // namespace tuneslot
