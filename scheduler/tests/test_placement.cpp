// Unit tests of where a new station fits (placement.h).

#include "placement.h"

#include <tune_snapshot.h>

#include <gtest/gtest.h>

namespace tuneslot {
namespace {

constexpr std::uint32_t unlimited = TUNE_UNLIMITED;

FleetBackend backend(const char* name, const char* region, const char* health, const char* why,
    std::uint32_t listeners, std::uint32_t capacity)
{
    FleetBackend b;
    b.name = name;
    b.region = region;
    b.health = health;
    (std::string_view(health) == "draining" ? b.note : b.reason) = why;
    b.listeners = listeners;
    b.capacity = capacity;
    b.weight = b.configured_weight = 100;
    return b;
}

FleetBackend up(const char* name, const char* region, std::uint32_t listeners, std::uint32_t capacity)
{
    return backend(name, region, "up", "", listeners, capacity);
}

PlaceQuery query(std::uint32_t listeners, const char* region = "")
{
    PlaceQuery q;
    q.listeners = listeners;
    q.region = region;
    return q;
}

std::string order(const PlaceAnswer& a)
{
    std::string out;
    for (const PlaceRank& r : a.ranks)
        out += (out.empty() ? "" : " ") + r.name;
    return out;
}

TEST(Placement, MostSpareAfterTheStationFirst)
{
    std::vector<FleetBackend> fleet = {up("a", "", 90, 100), up("b", "", 10, 100), up("c", "", 300, 400)};
    PlaceAnswer a = place(fleet, query(5));
    EXPECT_EQ(order(a), "c b a");
    EXPECT_EQ(a.ranks[0].spare_after, 95u);
    EXPECT_EQ(a.ranks[1].spare_after, 85u);
    EXPECT_EQ(a.ranks[2].spare_after, 5u);

    // a tie: by name
    fleet = {up("y", "", 10, 20), up("x", "", 0, 10)};
    EXPECT_EQ(order(place(fleet, query(0))), "x y");
    EXPECT_TRUE(a.left_out.empty());
}

TEST(Placement, TheRegionFirstThenTheRest)
{
    std::vector<FleetBackend> fleet = {up("eu1", "eu", 50, 100), up("us1", "us", 0, 1000), up("eu2", "eu", 10, 100)};
    PlaceAnswer a = place(fleet, query(20, "eu"));
    EXPECT_EQ(order(a), "eu2 eu1 us1");
    EXPECT_TRUE(a.ranks[0].in_region);
    EXPECT_FALSE(a.ranks[2].in_region);

    // the region's backends cannot take it: the others, still ranked
    a = place(fleet, query(95, "eu"));
    EXPECT_EQ(order(a), "us1");
    ASSERT_EQ(a.left_out.size(), 2u);
    EXPECT_EQ(a.left_out[0].why, "full for it: 50 to spare, 95 wanted");
}

TEST(Placement, DownDrainingUnpolledAndFullAreLeftOutWithWhy)
{
    std::vector<FleetBackend> fleet = {
        backend("d", "", "down", "connect: Connection refused", 0, 0),
        backend("n", "", "draining", "moving racks", 5, 100),
        backend("q", "", "draining", "", 5, 100),
        backend("u", "", "unpolled", "", 0, 0),
        up("f", "", 99, 100),
        up("ok", "", 0, 100),
    };
    PlaceAnswer a = place(fleet, query(10));
    EXPECT_EQ(order(a), "ok");
    ASSERT_EQ(a.left_out.size(), 5u);
    EXPECT_EQ(a.left_out[0].why, "down: connect: Connection refused");
    EXPECT_EQ(a.left_out[1].why, "draining: moving racks");
    EXPECT_EQ(a.left_out[2].why, "draining");
    EXPECT_EQ(a.left_out[3].why, "not polled yet");
    EXPECT_EQ(a.left_out[4].why, "full for it: 1 to spare, 10 wanted");
}

TEST(Placement, WeightZeroIsLeftOut)
{
    FleetBackend off = up("off", "", 0, 1000);
    off.weight = off.configured_weight = 0;
    std::vector<FleetBackend> fleet = {off, up("on", "", 50, 100)};
    PlaceAnswer a = place(fleet, query(10));
    EXPECT_EQ(order(a), "on");
    ASSERT_EQ(a.left_out.size(), 1u);
    EXPECT_EQ(a.left_out[0].why, "weight 0: it gets no listeners");
    EXPECT_EQ(place({off}, query(1)).empty_because, "no backend has room for 1 listeners: 1 of weight 0");
}

TEST(Placement, AnUnknownCapacityRanksAfterTheKnownOnes)
{
    std::vector<FleetBackend> fleet = {up("open", "", 0, unlimited), up("small", "", 0, 20)};
    PlaceAnswer a = place(fleet, query(10));
    EXPECT_EQ(order(a), "small open");
    // and never counts as full
    a = place(fleet, query(1000));
    EXPECT_EQ(order(a), "open");
}

TEST(Placement, AnEmptyAnswerSaysWhy)
{
    EXPECT_EQ(place({}, query(1)).empty_because, "no backend is configured");
    std::vector<FleetBackend> fleet = {backend("a", "eu", "down", "timeout", 0, 0),
        backend("b", "us", "down", "HTTP 503", 0, 0)};
    EXPECT_EQ(place(fleet, query(1)).empty_because, "every backend is down");
    EXPECT_EQ(place(fleet, query(1, "asia")).empty_because,
        "no backend is in region \"asia\" (regions: eu, us)");

    fleet = {backend("a", "", "down", "timeout", 0, 0), up("b", "", 90, 100), up("c", "", 70, 100)};
    PlaceAnswer a = place(fleet, query(50));
    EXPECT_TRUE(a.ranks.empty());
    EXPECT_EQ(a.empty_because, "no backend has room for 50 listeners: 1 down, 2 full for it (the most to spare: c, 30)");
    EXPECT_EQ(place({backend("a", "", "draining", "", 0, 10)}, query(1)).empty_because, "every backend is draining");
    EXPECT_EQ(place({backend("a", "", "unpolled", "", 0, 0)}, query(1)).empty_because, "no backend has been polled yet");
}

TEST(Placement, QueryWords)
{
    std::string why;
    std::optional<PlaceQuery> q = parse_place_query("", why);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->listeners, 0u);
    EXPECT_TRUE(q->region.empty());
    EXPECT_FALSE(q->text);

    q = parse_place_query("region=eu-west&listeners=250&format=text", why);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->listeners, 250u);
    EXPECT_EQ(q->region, "eu-west");
    EXPECT_TRUE(q->text);

    const std::pair<const char*, const char*> bad[] = {
        {"listeners=-1", "invalid listeners \"-1\": a count, 0 to 4294967294"},
        {"listeners=007", "invalid listeners \"007\": a count, 0 to 4294967294"},
        {"listeners=4294967295", "invalid listeners \"4294967295\": a count, 0 to 4294967294"},
        {"listeners=", "invalid listeners \"\": a count, 0 to 4294967294"},
        {"listeners", "invalid listeners \"\": a count, 0 to 4294967294"},
        {"region=eu%20west", "invalid region \"eu%20west\": 1 to 64 bytes of A-Z a-z 0-9 . _ -"},
        {"region=", "invalid region \"\": 1 to 64 bytes of A-Z a-z 0-9 . _ -"},
        {"format=xml", "invalid format \"xml\": text or json"},
        {"listeners=1&listeners=2", "parameter \"listeners\" given twice"},
        {"stream=demo", "unknown parameter \"stream\""},
        {"listeners=1&", "an empty parameter"},
        {"&listeners=1", "an empty parameter"},
        {"a\x01=1", "unknown parameter \"a\\x01\""},
    };
    for (const auto& [text, message] : bad) {
        EXPECT_FALSE(parse_place_query(text, why)) << text;
        EXPECT_EQ(why, message) << text;
    }
    EXPECT_FALSE(parse_place_query(std::string("region=") + std::string(65, 'r'), why));
}

TEST(Placement, JsonAndText)
{
    std::vector<FleetBackend> fleet = {up("a", "eu", 10, 100), up("b", "", 0, unlimited),
        backend("c", "", "down", "parse: \"bad\" \\ page", 0, 0)};
    PlaceQuery q = query(20, "eu");
    PlaceAnswer a = place(fleet, q);
    EXPECT_EQ(place_json(a, q),
        "{\"listeners\":20,\"region\":\"eu\",\"ranks\":["
        "{\"rank\":1,\"name\":\"a\",\"region\":\"eu\",\"in_region\":true,\"listeners\":10,\"capacity\":100,"
        "\"spare_after\":70},"
        "{\"rank\":2,\"name\":\"b\",\"region\":null,\"in_region\":false,\"listeners\":0,\"capacity\":null,"
        "\"spare_after\":null}],"
        "\"left_out\":[{\"name\":\"c\",\"why\":\"down: parse: \\\"bad\\\" \\\\ page\"}],\"empty_because\":null}\n");
    EXPECT_EQ(place_text(a, q),
        "a station of 20 listeners, region eu first:\n"
        "  1. a  region eu  listeners 10 of 100, 70 to spare after it\n"
        "  2. b  listeners 0, capacity not known\n"
        "left out:\n"
        "  c: down: parse: \"bad\" \\ page\n");

    a = place({}, query(1));
    EXPECT_EQ(place_json(a, query(1)),
        "{\"listeners\":1,\"region\":null,\"ranks\":[],\"left_out\":[],"
        "\"empty_because\":\"no backend is configured\"}\n");
    EXPECT_EQ(place_text(a, query(1)), "a station of 1 listeners:\nno place: no backend is configured\n");
}

}  // namespace
}  // namespace tuneslot
