// Unit tests of the icecast-json, shoutcast2, shoutcast1 and mediamtx
// parsers and of the JSON reader under them.

#include "parse_matchers.h"
#include "status_json.h"
#include "status_parsers.h"

#include <tune_snapshot.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace tuneslot {
namespace {

constexpr std::uint32_t unlimited = TUNE_UNLIMITED;

std::string nested(char open, char close, std::size_t depth)
{
    return std::string(depth, open) + std::string(depth, close);
}

// ---- the JSON reader ---------------------------------------------------------------

TEST(UntrustedJson, FlattensObjectsWithTheirPaths)
{
    std::vector<JsonObject> objects;
    std::string why;
    ASSERT_TRUE(read_untrusted_json(R"({"a":1,"b":{"c":"x","d":[{"e":true},{"e":null}]},"f":[[{"g":-2}]]})",
        objects, why)) << why;
    ASSERT_EQ(objects.size(), 5u);
    EXPECT_EQ(objects[0].path, "");
    EXPECT_EQ(objects[0].members.at("a").text, "1");
    EXPECT_EQ(objects[0].members.at("b").kind, JsonValue::Kind::object);
    EXPECT_EQ(objects[0].members.at("f").kind, JsonValue::Kind::array);
    EXPECT_EQ(objects[1].path, "b");
    EXPECT_EQ(objects[1].members.at("c").text, "x");
    EXPECT_EQ(objects[2].path, "b.d[]");
    EXPECT_EQ(objects[2].members.at("e").text, "true");
    EXPECT_EQ(objects[3].members.at("e").kind, JsonValue::Kind::null);
    EXPECT_EQ(objects[4].path, "f[][]");
    EXPECT_EQ(objects[4].members.at("g").text, "-2");
}

TEST(UntrustedJson, ArraysThatAreMembersCarryTheirLength)
{
    std::vector<JsonObject> objects;
    std::string why;
    ASSERT_TRUE(read_untrusted_json(R"({"a":[],"b":[1,"x",null,[2,3],{"c":[{},{}]}],"d":[[[]]]})", objects, why)) << why;
    ASSERT_EQ(objects.size(), 4u);
    EXPECT_EQ(objects[0].members.at("a").text, "0");
    EXPECT_EQ(objects[0].members.at("b").text, "5");
    EXPECT_EQ(objects[0].members.at("d").text, "1");
    EXPECT_EQ(objects[1].path, "b[]");
    EXPECT_EQ(objects[1].members.at("c").text, "2");
}

TEST(UntrustedJson, RefusesWhatIsNotOneWellFormedValue)
{
    std::vector<JsonObject> objects;
    std::string why;
    for (const char* bad : {"", "{", "{\"a\":1", "{\"a\":1}}", "{\"a\":1} x", "{'a':1}", "{\"a\":01}",
             "{\"a\":1,}", "{\"a\" 1}", "[1,2", "nul", "{\"a\":\"\x01\"}"}) {
        EXPECT_FALSE(read_untrusted_json(bad, objects, why)) << bad;
        EXPECT_FALSE(why.empty()) << bad;
        EXPECT_TRUE(objects.empty()) << bad;
    }
}

TEST(UntrustedJson, RefusesInvalidUtf8)
{
    std::vector<JsonObject> objects;
    std::string why;
    EXPECT_FALSE(read_untrusted_json("{\"a\":\"\xff\xfe\"}", objects, why));
    EXPECT_NE(why.find("UTF-8"), std::string::npos) << why;
    EXPECT_FALSE(read_untrusted_json("{\"a\":\"\xc3\"}", objects, why));
}

TEST(UntrustedJson, RefusesARepeatedKey)
{
    std::vector<JsonObject> objects;
    std::string why;
    EXPECT_FALSE(read_untrusted_json(R"({"listeners":1,"listeners":900})", objects, why));
    EXPECT_NE(why.find("appears twice"), std::string::npos) << why;
}

TEST(UntrustedJson, NestingTenThousandDeepIsRefusedQuickly)
{
    std::vector<JsonObject> objects;
    std::string why;
    for (char open : {'[', '{'}) {
        std::string doc = open == '[' ? nested('[', ']', 10000) : "";
        if (open == '{') {
            for (int i = 0; i < 10000; ++i)
                doc += "{\"a\":";
            doc += "1" + std::string(10000, '}');
        }
        auto t0 = std::chrono::steady_clock::now();
        EXPECT_FALSE(read_untrusted_json(doc, objects, why));
        EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
        EXPECT_NE(why.find("nested deeper than 32"), std::string::npos) << why;
    }
    // and a truncated one: no closing brackets at all
    EXPECT_FALSE(read_untrusted_json(std::string(100000, '['), objects, why));
    EXPECT_NE(why.find("nested deeper"), std::string::npos) << why;
}

TEST(UntrustedJson, NestingUpToTheLimitIsFine)
{
    std::vector<JsonObject> objects;
    std::string why;
    EXPECT_TRUE(read_untrusted_json(nested('[', ']', json_depth_max), objects, why)) << why;
    EXPECT_FALSE(read_untrusted_json(nested('[', ']', json_depth_max + 1), objects, why));
}

TEST(UntrustedJson, TooManyObjectsAreRefused)
{
    std::string doc = "[";
    for (std::size_t i = 0; i <= json_objects_max; ++i)
        doc += i == 0 ? "{}" : ",{}";
    doc += "]";
    std::vector<JsonObject> objects;
    std::string why;
    EXPECT_FALSE(read_untrusted_json(doc, objects, why));
    EXPECT_NE(why.find("more than 10000 objects"), std::string::npos) << why;
}

TEST(UntrustedJson, LongKeysAreNotCopiedIntoPaths)
{
    std::string key(100000, 'k');
    std::vector<JsonObject> objects;
    std::string why;
    ASSERT_TRUE(read_untrusted_json("{\"" + key + "\":[{},{},{}]}", objects, why)) << why;
    ASSERT_EQ(objects.size(), 4u);
    EXPECT_EQ(objects[1].path, "?[]");

    // 30 levels of keys short enough for paths, then many objects: paths
    // stop growing
    std::string doc;
    for (int i = 0; i < 30; ++i)
        doc += "{\"" + std::string(60, 'k') + std::to_string(10 + i) + "\":";   // 62 bytes
    doc += "[{}";
    for (int i = 1; i < 5000; ++i)
        doc += ",{}";
    doc += "]" + std::string(30, '}');
    ASSERT_TRUE(read_untrusted_json(doc, objects, why)) << why;
    ASSERT_EQ(objects.size(), 5030u);
    for (const JsonObject& o : objects)
        ASSERT_LE(o.path.size(), 256u + 1 + 66);
}

// ---- icecast-json -------------------------------------------------------------------

// Verbatim what Icecast 2.4.4's status-json.xsl wrote on this machine, with
// one source and with two (the "dummy" member is Icecast's).
constexpr const char* icecast_one = R"({"icestats":{"admin":"test@localhost","host":"127.0.0.1","location":"tuneslot test","server_id":"Icecast 2.4.4","server_start":"Sat, 21 Nov 2026 12:36:28 +0000","server_start_iso8601":"2026-11-21T12:36:28+0000","source":{"genre":"various","listener_peak":0,"listeners":0,"listenurl":"http://127.0.0.1:33241/lim","server_description":"Unspecified description","server_name":"Unspecified name","server_type":"audio/mpeg","stream_start":"Sat, 21 Nov 2026 12:36:28 +0000","stream_start_iso8601":"2026-11-21T12:36:28+0000","dummy":null}}})";
constexpr const char* icecast_two = R"({"icestats":{"admin":"test@localhost","host":"127.0.0.1","location":"tuneslot test","server_id":"Icecast 2.4.4","server_start":"Sat, 21 Nov 2026 12:36:28 +0000","server_start_iso8601":"2026-11-21T12:36:28+0000","source":[{"genre":"various","listener_peak":1,"listeners":1,"listenurl":"http://127.0.0.1:33241/lim","server_description":"Unspecified description","server_name":"Unspecified name","server_type":"audio/mpeg","stream_start":"Sat, 21 Nov 2026 12:36:28 +0000","stream_start_iso8601":"2026-11-21T12:36:28+0000","dummy":null},{"genre":"various","listener_peak":0,"listeners":0,"listenurl":"http://127.0.0.1:33241/unl","server_description":"Unspecified description","server_name":"Unspecified name","server_type":"audio/mpeg","stream_start":"Sat, 21 Nov 2026 12:36:29 +0000","stream_start_iso8601":"2026-11-21T12:36:29+0000","dummy":null}]}})";
constexpr const char* icecast_none = R"({"icestats":{"admin":"test@localhost","host":"127.0.0.1","location":"tuneslot test","server_id":"Icecast 2.4.4","server_start":"Sat, 21 Nov 2026 12:36:34 +0000","server_start_iso8601":"2026-11-21T12:36:34+0000","dummy":null}})";

TEST(IcecastJson, OneSourceIsAnObject)
{
    ParseResult r = parse_icecast_json(icecast_one);
    EXPECT_TRUE(has_mount(r, "/lim", 0, unlimited, unlimited));
    EXPECT_EQ(r.mounts.size(), 1u);
    EXPECT_FALSE(r.server);
}

TEST(IcecastJson, SeveralSourcesAreAnArray)
{
    ParseResult r = parse_icecast_json(icecast_two);
    EXPECT_TRUE(has_mount(r, "/lim", 1, unlimited, unlimited));
    EXPECT_TRUE(has_mount(r, "/unl", 0, unlimited, unlimited));
    EXPECT_EQ(r.mounts.size(), 2u);
}

TEST(IcecastJson, NoSourceMeansNoMount)
{
    ParseResult r = parse_icecast_json(icecast_none);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.mounts.empty());
}

TEST(IcecastJson, MountIsThePathOfListenurl)
{
    ParseResult r = parse_icecast_json(R"({"icestats":{"source":[
        {"listeners":2,"listenurl":"https://radio.example.net/deep/path.mp3"},
        {"listeners":3,"listenurl":"http://h:8000"},
        {"listeners":4,"listenurl":"http://h:8000/q?x=1"}]}})");
    EXPECT_TRUE(has_mount(r, "/deep/path.mp3", 2, unlimited, unlimited));
    EXPECT_TRUE(has_mount(r, "/", 3, unlimited, unlimited));
    EXPECT_TRUE(has_mount(r, "/q", 4, unlimited, unlimited));
}

TEST(IcecastJson, UnescapedControlCharactersInATitleAreTolerated)
{
    // verbatim tail of what Icecast 2.4.4 wrote after a source set the
    // title "ctl\x01x\x1fy"
    ParseResult r = parse_icecast_json("{\"icestats\":{\"source\":{\"listeners\":2,"
                                       "\"listenurl\":\"http://127.0.0.1:8000/demo\","
                                       "\"title\":\"ctl\x01x\x1fy\",\"dummy\":null}}}");
    EXPECT_TRUE(has_mount(r, "/demo", 2, unlimited, unlimited));
    // a NUL byte too, and nothing else is relaxed
    EXPECT_TRUE(has_mount(parse_icecast_json(std::string("{\"icestats\":{\"source\":{\"listeners\":1,"
                                                         "\"listenurl\":\"http://h/a\",\"t\":\"\0\"}}}", 72)),
        "/a", 1, unlimited, unlimited));
    EXPECT_TRUE(fails_with(parse_icecast_json("{\"icestats\":{\"source\":{\"listeners\":1,"
                                              "\"listenurl\":\"http://h/a\",\"t\":\"\xff\"}}}"),
        "UTF-8"));
}

TEST(IcecastJson, BrokenPageRightAfterStartFails)
{
    // Icecast 2.4.4 wrote this in its first instant, before its stats existed
    EXPECT_TRUE(fails_with(parse_icecast_json(
        R"({"icestats":"server_start":"Sat, 21 Nov 2026 12:36:28 +0000","server_start_iso8601":"2026-11-21T12:36:28+0000","dummy":null}})"),
        "parse error"));
}

TEST(IcecastJson, BadSourcesFail)
{
    EXPECT_TRUE(fails_with(parse_icecast_json(R"({"icestats":{"source":{"listeners":1}}})"), "no \"listenurl\""));
    EXPECT_TRUE(fails_with(parse_icecast_json(R"({"icestats":{"source":{"listeners":1,"listenurl":5}}})"),
        "not a string"));
    EXPECT_TRUE(fails_with(parse_icecast_json(R"({"icestats":{"source":{"listeners":1,"listenurl":"/a"}}})"),
        "not an absolute URL"));
    EXPECT_TRUE(fails_with(parse_icecast_json(R"({"icestats":{"source":{"listenurl":"http://h/a"}}})"),
        "no \"listeners\""));
    for (const char* n : {"-1", "1.5", "1e3", "4294967295", "99999999999999999999999", "true", "null", "[]"})
        EXPECT_TRUE(fails_with(parse_icecast_json(std::string(R"({"icestats":{"source":{"listenurl":"http://h/a","listeners":)")
                                   + n + "}}}"),
            "listeners")) << n;
    EXPECT_TRUE(fails_with(parse_icecast_json(R"({"icestats":{"source":[{"listeners":1,"listenurl":"http://h/a"},
        {"listeners":2,"listenurl":"http://g/a"}]}})"), "appears twice"));
}

TEST(IcecastJson, WrongDocumentSaysSo)
{
    EXPECT_TRUE(fails_with(parse_icecast_json(R"({"streams":[]})"), "no \"icestats\" object"));
    EXPECT_TRUE(fails_with(parse_icecast_json("<icestats/>"), "parse error"));
    EXPECT_TRUE(fails_with(parse_icecast_json("[]"), "no \"icestats\" object"));
}

// ---- shoutcast2 ---------------------------------------------------------------------

// Shaped after the DNAS 2 JSON responses documentation: two streams, the
// second configured but without a source; bitrate and samplerate are strings
// there, as DNAS writes them.
constexpr const char* dnas2 = R"json({"totalstreams":2,"activestreams":1,"currentlisteners":7,"peaklisteners":12,
"maxlisteners":100,"uniquelisteners":6,"averagetime":321,"version":"2.6.1.777 (posix(linux x64))",
"streams":[
 {"id":1,"currentlisteners":7,"peaklisteners":12,"maxlisteners":50,"uniquelisteners":6,"averagetime":321,
  "servergenre":"Misc","servergenre2":"","servergenre3":"","servergenre4":"","servergenre5":"",
  "serverurl":"http://radio.example.net","servertitle":"Demo \u00e9t\u00e9","songtitle":"Artist - Title",
  "streamhits":40,"streamstatus":1,"backupstatus":0,"streamlisted":1,"streamlistederror":0,
  "streampath":"/live","streamuptime":3600,"bitrate":"128","samplerate":"44100","content":"audio/mpeg"},
 {"id":2,"currentlisteners":0,"peaklisteners":0,"maxlisteners":50,"uniquelisteners":0,"averagetime":0,
  "servertitle":"","songtitle":"","streamhits":0,"streamstatus":0,"backupstatus":0,"streamlisted":0,
  "streamlistederror":0,"streampath":"/stream/2/","streamuptime":0,"bitrate":"0","samplerate":"0","content":""}
]})json";

TEST(Shoutcast2, ReadsStreamsAndServerWideFigures)
{
    ParseResult r = parse_shoutcast2(dnas2);
    EXPECT_TRUE(has_mount(r, "/live", 7, 50, 43));
    EXPECT_EQ(r.mounts.size(), 1u);   // /stream/2/ has no source
    ASSERT_TRUE(r.server);
    EXPECT_EQ(r.server->listeners, 7u);
    EXPECT_EQ(r.server->capacity, 100u);
}

TEST(Shoutcast2, QuotedNumbersAreAccepted)
{
    ParseResult r = parse_shoutcast2(R"({"currentlisteners":"3","maxlisteners":"10","streams":[
        {"streampath":"/a","currentlisteners":"3","maxlisteners":"8","streamstatus":"1"}]})");
    EXPECT_TRUE(has_mount(r, "/a", 3, 8, 5));
}

TEST(Shoutcast2, MoreListenersThanMaxHasNoFreeSlot)
{
    ParseResult r = parse_shoutcast2(R"({"currentlisteners":9,"maxlisteners":10,"streams":[
        {"streampath":"/a","currentlisteners":9,"maxlisteners":8,"streamstatus":1}]})");
    EXPECT_TRUE(has_mount(r, "/a", 9, 8, 0));
}

TEST(Shoutcast2, NoStreamsIsFine)
{
    ParseResult r = parse_shoutcast2(R"({"totalstreams":0,"currentlisteners":0,"maxlisteners":32,"streams":[]})");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.mounts.empty());
}

TEST(Shoutcast2, BadDocumentsFail)
{
    EXPECT_TRUE(fails_with(parse_shoutcast2(R"({"currentlisteners":0,"maxlisteners":32})"), "no \"streams\" array"));
    EXPECT_TRUE(fails_with(parse_shoutcast2(R"({"streams":{}})"), "no \"streams\" array"));
    EXPECT_TRUE(fails_with(parse_shoutcast2(icecast_one), "no \"streams\" array"));
    EXPECT_TRUE(fails_with(parse_shoutcast2(R"({"maxlisteners":32,"streams":[]})"), "server: no \"currentlisteners\""));
    EXPECT_TRUE(fails_with(parse_shoutcast2(R"({"currentlisteners":-1,"maxlisteners":32,"streams":[]})"),
        "server: \"currentlisteners\""));
    EXPECT_TRUE(fails_with(parse_shoutcast2(R"({"currentlisteners":0,"maxlisteners":32,"streams":[
        {"currentlisteners":0,"maxlisteners":8,"streamstatus":1}]})"), "no \"streampath\""));
    EXPECT_TRUE(fails_with(parse_shoutcast2(R"({"currentlisteners":0,"maxlisteners":32,"streams":[
        {"streampath":"live","currentlisteners":0,"maxlisteners":8,"streamstatus":1}]})"), "does not start with '/'"));
    EXPECT_TRUE(fails_with(parse_shoutcast2(R"({"currentlisteners":0,"maxlisteners":32,"streams":[
        {"streampath":"/a","currentlisteners":0,"maxlisteners":8}]})"), "no \"streamstatus\""));
    EXPECT_TRUE(fails_with(parse_shoutcast2(R"({"currentlisteners":0,"maxlisteners":32,"streams":[
        {"streampath":"/a","currentlisteners":1e2,"maxlisteners":8,"streamstatus":1}]})"), "\"currentlisteners\""));
    EXPECT_TRUE(fails_with(parse_shoutcast2(R"({"currentlisteners":0,"maxlisteners":32,"streams":[
        {"streampath":"/a","currentlisteners":0,"maxlisteners":"-8","streamstatus":1}]})"), "\"maxlisteners\""));
    EXPECT_TRUE(fails_with(parse_shoutcast2(R"({"currentlisteners":0,"maxlisteners":32,"streams":[
        {"streampath":"/a","currentlisteners":0,"maxlisteners":8,"streamstatus":1},
        {"streampath":"/a","currentlisteners":0,"maxlisteners":8,"streamstatus":0}]})"), "appears twice"));
}

// ---- shoutcast1 ---------------------------------------------------------------------

// Shaped after what DNAS 1.9.8's admin.cgi?mode=viewxml writes, with a song
// title in ISO-8859-1 that no XML declaration announces.
constexpr const char* dnas1 = "<?xml version=\"1.0\" standalone=\"yes\" ?>\n"
    "<SHOUTCASTSERVER><CURRENTLISTENERS>3</CURRENTLISTENERS><PEAKLISTENERS>9</PEAKLISTENERS>"
    "<MAXLISTENERS>32</MAXLISTENERS><REPORTEDLISTENERS>3</REPORTEDLISTENERS><AVERAGETIME>120</AVERAGETIME>"
    "<SERVERGENRE>Misc</SERVERGENRE><SERVERURL>http://radio.example.net</SERVERURL>"
    "<SERVERTITLE>Caf\xe9 Radio</SERVERTITLE><SONGTITLE>Mot\xf6rhead - Ace</SONGTITLE><SONGURL></SONGURL>"
    "<IRC>N/A</IRC><ICQ>0</ICQ><AIM>N/A</AIM><WEBHITS>50</WEBHITS><STREAMHITS>20</STREAMHITS>"
    "<STREAMSTATUS>1</STREAMSTATUS><BITRATE>128</BITRATE><CONTENT>audio/mpeg</CONTENT><VERSION>1.9.8</VERSION>"
    "<WEBDATA><INDEX>1</INDEX><LISTEN>1</LISTEN><PALM7>0</PALM7><LOGIN>0</LOGIN><LOGINFAIL>0</LOGINFAIL>"
    "<PLAYED>1</PLAYED><COOKIE>0</COOKIE><ADMIN>5</ADMIN><UPDINFO>3</UPDINFO><KICKSRC>0</KICKSRC>"
    "<KICKDST>0</KICKDST><UNBANDST>0</UNBANDST><BANDST>0</BANDST><VIEWBAN>0</VIEWBAN><UNRIPDST>0</UNRIPDST>"
    "<RIPDST>0</RIPDST><VIEWRIP>0</VIEWRIP><VIEWXML>7</VIEWXML><VIEWLOG>0</VIEWLOG><INVALID>0</INVALID></WEBDATA>"
    "<LISTENERS><LISTENER><HOSTNAME>192.0.2.7</HOSTNAME><USERAGENT>WinampMPEG/5.66</USERAGENT>"
    "<UNDERRUNS>0</UNDERRUNS><CONNECTTIME>70</CONNECTTIME><POINTER>0</POINTER><UID>1</UID></LISTENER></LISTENERS>"
    "<SONGHISTORY><SONG><PLAYEDAT>1763712000</PLAYEDAT><TITLE>Mot\xf6rhead - Ace</TITLE></SONG></SONGHISTORY>"
    "</SHOUTCASTSERVER>";

TEST(Shoutcast1, OneStreamReportedAsSlash)
{
    ParseResult r = parse_shoutcast1(dnas1);
    EXPECT_TRUE(has_mount(r, "/", 3, 32, 29));
    EXPECT_EQ(r.mounts.size(), 1u);
}

TEST(Shoutcast1, NoSourceMeansNoMount)
{
    std::string doc = dnas1;
    doc.replace(doc.find("<STREAMSTATUS>1"), 15, "<STREAMSTATUS>0");
    ParseResult r = parse_shoutcast1(doc);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.mounts.empty());
}

TEST(Shoutcast1, BadDocumentsFail)
{
    EXPECT_TRUE(fails_with(parse_shoutcast1("<SHOUTCASTSERVER><MAXLISTENERS>3</MAXLISTENERS>"
                                            "<STREAMSTATUS>1</STREAMSTATUS></SHOUTCASTSERVER>"),
        "no <CURRENTLISTENERS>"));
    EXPECT_TRUE(fails_with(parse_shoutcast1("<SHOUTCASTSERVER><CURRENTLISTENERS>1</CURRENTLISTENERS>"
                                            "<STREAMSTATUS>1</STREAMSTATUS></SHOUTCASTSERVER>"),
        "no <MAXLISTENERS>"));
    EXPECT_TRUE(fails_with(parse_shoutcast1("<SHOUTCASTSERVER><CURRENTLISTENERS>1</CURRENTLISTENERS>"
                                            "<MAXLISTENERS>3</MAXLISTENERS></SHOUTCASTSERVER>"),
        "no <STREAMSTATUS>"));
    EXPECT_TRUE(fails_with(parse_shoutcast1("<SHOUTCASTSERVER><CURRENTLISTENERS>-1</CURRENTLISTENERS>"
                                            "<MAXLISTENERS>3</MAXLISTENERS><STREAMSTATUS>1</STREAMSTATUS>"
                                            "</SHOUTCASTSERVER>"),
        "<CURRENTLISTENERS>"));
    EXPECT_TRUE(fails_with(parse_shoutcast1("<SHOUTCASTSERVER><CURRENTLISTENERS>1</CURRENTLISTENERS>"
                                            "<CURRENTLISTENERS>2</CURRENTLISTENERS><MAXLISTENERS>3</MAXLISTENERS>"
                                            "<STREAMSTATUS>1</STREAMSTATUS></SHOUTCASTSERVER>"),
        "appears twice"));
    EXPECT_TRUE(fails_with(parse_shoutcast1("<html><body>Invalid password</body></html>"),
        "root element is <html>, expected <SHOUTCASTSERVER>"));
    EXPECT_TRUE(fails_with(parse_shoutcast1("<!DOCTYPE SHOUTCASTSERVER [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                                            "<SHOUTCASTSERVER><CURRENTLISTENERS>&x;</CURRENTLISTENERS>"
                                            "</SHOUTCASTSERVER>"),
        "DOCTYPE"));
}

// ---- mediamtx -------------------------------------------------------------------

// The shape of MediaMTX's GET /v3/paths/list (field names from its API
// description), written for these tests: "cam" published with two readers,
// "lobby" configured without a publisher, "event" published but not ready.
constexpr const char* mediamtx_paths = R"json({"pageCount":1,"itemCount":4,"items":[
 {"name":"cam","confName":"all_others","source":{"type":"rtmpConn","id":"6f1c"},"ready":true,
  "readyTime":"2026-12-07T16:00:00Z","tracks":["H264"],"bytesReceived":123456,"bytesSent":234567,
  "readers":[{"type":"rtspSession","id":"a1"},{"type":"hlsMuxer","id":""}]},
 {"name":"lobby","confName":"lobby","source":null,"ready":false,"readyTime":null,"tracks":[],
  "bytesReceived":0,"bytesSent":0,"readers":[]},
 {"name":"event","confName":"all_others","source":{"type":"srtConn","id":"77"},"ready":false,"readyTime":null,
  "tracks":[],"bytesReceived":0,"bytesSent":0,"readers":[{"type":"webRTCSession","id":"w"}]},
 {"name":"studio/mix","confName":"all_others","source":{"type":"rtspSession","id":"9"},"ready":true,
  "readyTime":"2026-12-07T16:01:00Z","tracks":["Opus"],"bytesReceived":1,"bytesSent":0,"readers":[]}
]})json";

TEST(Mediamtx, ReadersOfReadyPathsAreListeners)
{
    ParseResult r = parse_mediamtx(mediamtx_paths);
    EXPECT_TRUE(has_mount(r, "/cam", 2, unlimited, unlimited));
    EXPECT_TRUE(has_mount(r, "/studio/mix", 0, unlimited, unlimited));
    EXPECT_FALSE(r.server);
}

TEST(Mediamtx, NotReadyOrWithoutASourceIsNoSource)
{
    ParseResult r = parse_mediamtx(mediamtx_paths);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.mounts.contains("/lobby"));
    EXPECT_FALSE(r.mounts.contains("/event"));
    EXPECT_EQ(r.mounts.size(), 2u);
    r = parse_mediamtx(R"({"items":[{"name":"x","ready":true,"readers":[]}]})");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.mounts.empty());
}

TEST(Mediamtx, EmptyListIsFine)
{
    for (const char* doc : {R"({"pageCount":0,"itemCount":0,"items":[]})", R"({"items":[]})"}) {
        ParseResult r = parse_mediamtx(doc);
        ASSERT_TRUE(r.ok) << doc << ": " << r.error;
        EXPECT_TRUE(r.mounts.empty());
    }
}

TEST(Mediamtx, APagedListFailsNamingItemsPerPage)
{
    EXPECT_TRUE(fails_with(parse_mediamtx(R"({"pageCount":3,"itemCount":250,"items":[]})"),
        "\"pageCount\" is 3: only the first page of paths was read; add ?itemsPerPage="));
    EXPECT_TRUE(fails_with(parse_mediamtx(R"({"itemCount":2,"items":[{"name":"a","source":null,"ready":false,"readers":[]}]})"),
        "\"itemCount\" is 2 but the page holds 1 paths: add ?itemsPerPage=N to the status URL with N at least 2"));
}

TEST(Mediamtx, HostileCountsAndShapesFail)
{
    auto one = [](const std::string& path) { return parse_mediamtx(R"({"pageCount":1,"items":[)" + path + "]}"); };
    EXPECT_TRUE(fails_with(parse_mediamtx(R"({"pageCount":-1,"items":[]})"), "\"pageCount\""));
    EXPECT_TRUE(fails_with(parse_mediamtx(R"({"pageCount":1,"itemCount":1e9,"items":[]})"), "\"itemCount\""));
    EXPECT_TRUE(fails_with(parse_mediamtx(R"({"pageCount":1,"itemCount":"many","items":[]})"), "\"itemCount\""));
    EXPECT_TRUE(fails_with(one(R"({"source":{},"ready":true,"readers":[]})"), "path: no \"name\""));
    EXPECT_TRUE(fails_with(one(R"({"name":7,"source":{},"ready":true,"readers":[]})"), "not a string: \"name\""));
    EXPECT_TRUE(fails_with(one(R"({"name":"","source":{},"ready":true,"readers":[]})"), "empty \"name\""));
    EXPECT_TRUE(fails_with(one(R"({"name":"a","source":{},"readers":[]})"), "mount \"/a\": no \"ready\""));
    EXPECT_TRUE(fails_with(one(R"({"name":"a","source":{},"ready":"yes","readers":[]})"), "not a boolean: \"ready\""));
    EXPECT_TRUE(fails_with(one(R"({"name":"a","source":{},"ready":true})"), "no \"readers\""));
    EXPECT_TRUE(fails_with(one(R"({"name":"a","source":{},"ready":true,"readers":5})"), "not an array: \"readers\""));
    EXPECT_TRUE(fails_with(one(R"({"name":"a","source":"rtmp","ready":true,"readers":[]})"),
        "\"source\" is neither an object nor null"));
    EXPECT_TRUE(fails_with(one(R"({"name":"a","source":{},"ready":true,"readers":[]},{"name":"a","source":null,"ready":false,"readers":[]})"),
        "mount \"/a\" appears twice"));
}

TEST(Mediamtx, BadJsonAndWrongDocumentsFail)
{
    EXPECT_TRUE(fails_with(parse_mediamtx(""), "empty document"));
    EXPECT_FALSE(parse_mediamtx(R"({"items":[)").ok);
    EXPECT_FALSE(parse_mediamtx(R"({"items":[],"items":[]})").ok);
    EXPECT_TRUE(fails_with(parse_mediamtx(R"({"items":{}})"), "no \"items\" array"));
    EXPECT_TRUE(fails_with(parse_mediamtx(icecast_one), "no \"items\" array"));
    EXPECT_TRUE(fails_with(parse_mediamtx("[]"), "no \"items\" array"));
    EXPECT_FALSE(parse_mediamtx(nested('[', ']', 10000)).ok);
}

}  // namespace
}  // namespace tuneslot
