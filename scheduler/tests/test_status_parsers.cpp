// Unit tests of the XML status document parsers (load-xsl, icecast-admin,
// nginx-rtmp, wowza).

#include "parse_matchers.h"
#include "status_parsers.h"

#include <tune_snapshot.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace tuneslot {
namespace {

constexpr std::uint32_t unlimited = TUNE_UNLIMITED;

// ---- parse_count ----------------------------------------------------------------

TEST(ParseCount, AcceptsPlainDecimalWithSurroundingSpace)
{
    std::uint32_t v = 7;
    std::string why;
    EXPECT_TRUE(parse_count("0", v, why));
    EXPECT_EQ(v, 0u);
    EXPECT_TRUE(parse_count(" \n 42\t", v, why));
    EXPECT_EQ(v, 42u);
    EXPECT_TRUE(parse_count("4294967294", v, why));
    EXPECT_EQ(v, 4294967294u);
}

TEST(ParseCount, RefusesSignsFractionsExponentsAndAbsurdValues)
{
    std::uint32_t v = 0;
    std::string why;
    for (const char* bad : {"", "  ", "-1", "+1", "1.5", "1e3", "0x10", "12abc", "1 2", "4294967295",
             "99999999999999999999999", "unlimited-ish"}) {
        EXPECT_FALSE(parse_count(bad, v, why)) << bad;
        EXPECT_FALSE(why.empty()) << bad;
    }
}

// ---- load-xsl -------------------------------------------------------------------

TEST(LoadXsl, ClassicFormKnowsOnlyFreeSlots)
{
    ParseResult r = parse_load_xsl(R"(<?xml version="1.0"?>
<load>
  <mount name="/a">5</mount>
  <mount name="/b">unlimited</mount>
  <mount name="/c">0</mount>
</load>)");
    EXPECT_TRUE(has_mount(r, "/a", 0, 5, 5));
    EXPECT_TRUE(has_mount(r, "/b", 0, unlimited, unlimited));
    EXPECT_TRUE(has_mount(r, "/c", 0, 0, 0));
    EXPECT_EQ(r.mounts.size(), 3u);
}

TEST(LoadXsl, RichFormAsRenderedByOurLoadXsl)
{
    // verbatim what Icecast 2.4.4 renders with scheduler/load.xsl
    ParseResult r = parse_load_xsl(R"(<?xml version="1.0" encoding="UTF-8"?>
<load>
  <mount name="/lim" listeners="1" max="5">4</mount>
  <mount name="/unl" listeners="0" max="unlimited">unlimited</mount>
</load>
)");
    EXPECT_TRUE(has_mount(r, "/lim", 1, 5, 4));
    EXPECT_TRUE(has_mount(r, "/unl", 0, unlimited, unlimited));
}

TEST(LoadXsl, RichFormWithMoreListenersThanMaxHasNoFreeSlot)
{
    ParseResult r = parse_load_xsl(R"(<load><mount name="/a" listeners="7" max="5">0</mount></load>)");
    EXPECT_TRUE(has_mount(r, "/a", 7, 5, 0));
}

TEST(LoadXsl, PartialFormsDeriveWhatIsMissing)
{
    ParseResult r = parse_load_xsl(R"(<load>
      <mount name="/l" listeners="3">7</mount>
      <mount name="/lu" listeners="3">unlimited</mount>
      <mount name="/m" max="10">4</mount>
      <mount name="/mu" max="unlimited">unlimited</mount>
    </load>)");
    EXPECT_TRUE(has_mount(r, "/l", 3, 10, 7));
    EXPECT_TRUE(has_mount(r, "/lu", 3, unlimited, unlimited));
    EXPECT_TRUE(has_mount(r, "/m", 6, 10, 4));
    EXPECT_TRUE(has_mount(r, "/mu", 0, unlimited, unlimited));
}

TEST(LoadXsl, EmptyLoadMeansNoMountHasASource)
{
    ParseResult r = parse_load_xsl("<load/>");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.mounts.empty());
}

TEST(LoadXsl, IgnoresCommentsAndUnknownElements)
{
    ParseResult r = parse_load_xsl(R"(<load><!-- hi --><server>x</server><mount name="/a"><!-- c -->5</mount></load>)");
    EXPECT_TRUE(has_mount(r, "/a", 0, 5, 5));
}

TEST(LoadXsl, CharacterAndPredefinedReferencesAreText)
{
    ParseResult r = parse_load_xsl(R"(<load><mount name="/a&amp;b">&#53;</mount></load>)");
    EXPECT_TRUE(has_mount(r, "/a&b", 0, 5, 5));
}

TEST(LoadXsl, MalformedDocumentsFail)
{
    EXPECT_TRUE(fails_with(parse_load_xsl(""), "empty document"));
    EXPECT_TRUE(fails_with(parse_load_xsl("<load><mount name=\"/a\">5</load>"), "line 1"));
    EXPECT_TRUE(fails_with(parse_load_xsl("<load><mount name=\"/a\">5</mount>"), "line 1"));
    EXPECT_TRUE(fails_with(parse_load_xsl("<html><body>404</body></html>"), "root element is <html>"));
    EXPECT_TRUE(fails_with(parse_load_xsl("not xml at all"), "line 1"));
    EXPECT_TRUE(fails_with(parse_load_xsl("<load><mount>5</mount></load>"), "without a name"));
    EXPECT_TRUE(fails_with(parse_load_xsl("<load><mount name=\"\">5</mount></load>"), "without a name"));
    EXPECT_TRUE(fails_with(parse_load_xsl(R"(<load><mount name="/a">5</mount><mount name="/a">6</mount></load>)"),
        "appears twice"));
    EXPECT_TRUE(fails_with(parse_load_xsl(R"(<load><mount name="/a"><b>5</b></mount></load>)"),
        "unexpected content"));
}

TEST(LoadXsl, BadNumbersFailThePoll)
{
    EXPECT_TRUE(fails_with(parse_load_xsl(R"(<load><mount name="/a">-1</mount></load>)"), "free slots"));
    EXPECT_TRUE(fails_with(parse_load_xsl(R"(<load><mount name="/a">2.5</mount></load>)"), "free slots"));
    EXPECT_TRUE(fails_with(parse_load_xsl(R"(<load><mount name="/a"></mount></load>)"), "empty number"));
    EXPECT_TRUE(fails_with(parse_load_xsl(R"(<load><mount name="/a">NaN</mount></load>)"), "not a whole number"));
    EXPECT_TRUE(fails_with(parse_load_xsl(R"(<load><mount name="/a">2.1E9</mount></load>)"), "not a whole number"));
    EXPECT_TRUE(fails_with(parse_load_xsl(R"(<load><mount name="/a">99999999999</mount></load>)"), "out of range"));
    EXPECT_TRUE(fails_with(parse_load_xsl(R"(<load><mount name="/a" listeners="-3" max="5">8</mount></load>)"),
        "listeners"));
    EXPECT_TRUE(fails_with(parse_load_xsl(R"(<load><mount name="/a" listeners="1" max="lots">4</mount></load>)"),
        "max"));
    EXPECT_TRUE(fails_with(parse_load_xsl(R"(<load><mount name="/a" max="3">4</mount></load>)"),
        "more free slots than max"));
    EXPECT_TRUE(fails_with(parse_load_xsl(R"(<load><mount name="/a" listeners="4294967294">5</mount></load>)"),
        "out of range"));
}

// ---- entities: nothing may be declared, loaded or expanded -------------------------

TEST(UntrustedXml, InternalEntityIsRefused)
{
    ParseResult r = parse_load_xsl(R"(<?xml version="1.0"?>
<!DOCTYPE load [ <!ENTITY n "5"> ]>
<load><mount name="/a">&n;</mount></load>)");
    EXPECT_TRUE(fails_with(r, "DOCTYPE"));
}

TEST(UntrustedXml, ExternalEntityIsRefused)
{
    ParseResult r = parse_icecast_admin(R"(<?xml version="1.0"?>
<!DOCTYPE icestats [ <!ENTITY x SYSTEM "file:///etc/passwd"> ]>
<icestats><source mount="/a"><listeners>&x;</listeners><max_listeners>5</max_listeners></source></icestats>)");
    EXPECT_TRUE(fails_with(r, "DOCTYPE"));
}

TEST(UntrustedXml, ExternalDtdIsRefused)
{
    ParseResult r = parse_load_xsl(R"(<?xml version="1.0"?>
<!DOCTYPE load SYSTEM "http://127.0.0.1:1/evil.dtd">
<load><mount name="/a">5</mount></load>)");
    EXPECT_TRUE(fails_with(r, "DOCTYPE"));
}

TEST(UntrustedXml, BillionLaughsIsRefusedAtOnce)
{
    std::string doc = "<?xml version=\"1.0\"?>\n<!DOCTYPE load [\n<!ENTITY l0 \"ha\">\n";
    for (int i = 1; i <= 9; ++i) {
        doc += "<!ENTITY l" + std::to_string(i) + " \"";
        for (int k = 0; k < 10; ++k)
            doc += "&l" + std::to_string(i - 1) + ";";
        doc += "\">\n";
    }
    doc += "]>\n<load><mount name=\"/a\">&l9;</mount></load>";

    auto t0 = std::chrono::steady_clock::now();
    ParseResult r = parse_load_xsl(doc);
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(fails_with(r, "DOCTYPE"));
    EXPECT_LT(took, std::chrono::milliseconds(500));
}

TEST(UntrustedXml, UndeclaredEntityIsAnError)
{
    EXPECT_TRUE(fails_with(parse_load_xsl(R"(<load><mount name="/a">&x;</mount></load>)"), "line 1"));
}

// ---- icecast-admin ----------------------------------------------------------------

// Trimmed from Icecast 2.4.4's /admin/stats on this machine: /lim has
// <max-listeners>5</max-listeners> and 2 listeners, /unl has no limit.
constexpr const char* admin_stats = R"(<?xml version="1.0"?>
<icestats><admin>icemaster@localhost</admin><client_connections>3</client_connections><clients>4</clients><connections>5</connections><file_connections>0</file_connections><host>127.0.0.1</host><listener_connections>2</listener_connections><listeners>2</listeners><location>Earth</location><server_id>Icecast 2.4.4</server_id><source_client_connections>2</source_client_connections><sources>2</sources><stats>0</stats><stats_connections>0</stats_connections><source mount="/lim"><genre>various</genre><listener_peak>2</listener_peak><listeners>2</listeners><listenurl>http://127.0.0.1:18000/lim</listenurl><max_listeners>5</max_listeners><public>0</public><server_type>audio/mpeg</server_type><slow_listeners>0</slow_listeners><source_ip>127.0.0.1</source_ip><total_bytes_read>0</total_bytes_read><total_bytes_sent>0</total_bytes_sent><user_agent>Lavf/59.27.100</user_agent></source><source mount="/unl"><genre>various</genre><listener_peak>0</listener_peak><listeners>0</listeners><listenurl>http://127.0.0.1:18000/unl</listenurl><max_listeners>unlimited</max_listeners><public>0</public><server_type>audio/mpeg</server_type></source></icestats>
)";

TEST(IcecastAdmin, ReadsListenersAndMaxListenersPerSource)
{
    ParseResult r = parse_icecast_admin(admin_stats);
    EXPECT_TRUE(has_mount(r, "/lim", 2, 5, 3));
    EXPECT_TRUE(has_mount(r, "/unl", 0, unlimited, unlimited));
    EXPECT_EQ(r.mounts.size(), 2u);
}

TEST(IcecastAdmin, NoSourcesIsFine)
{
    ParseResult r = parse_icecast_admin("<icestats><listeners>0</listeners><sources>0</sources></icestats>");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.mounts.empty());
}

TEST(IcecastAdmin, MissingOrBadCountsFail)
{
    EXPECT_TRUE(fails_with(parse_icecast_admin(R"(<icestats><source mount="/a"><max_listeners>5</max_listeners></source></icestats>)"),
        "no <listeners>"));
    EXPECT_TRUE(fails_with(parse_icecast_admin(R"(<icestats><source mount="/a"><listeners>1</listeners></source></icestats>)"),
        "no <max_listeners>"));
    EXPECT_TRUE(fails_with(parse_icecast_admin(R"(<icestats><source mount="/a"><listeners>-1</listeners><max_listeners>5</max_listeners></source></icestats>)"),
        "<listeners>"));
    EXPECT_TRUE(fails_with(parse_icecast_admin(R"(<icestats><source mount="/a"><listeners>1</listeners><max_listeners>-1</max_listeners></source></icestats>)"),
        "<max_listeners>"));
    EXPECT_TRUE(fails_with(parse_icecast_admin(R"(<icestats><source mount="/a"><listeners>1</listeners><listeners>2</listeners><max_listeners>5</max_listeners></source></icestats>)"),
        "appears twice"));
    EXPECT_TRUE(fails_with(parse_icecast_admin(R"(<icestats><source><listeners>1</listeners></source></icestats>)"),
        "without a mount"));
    EXPECT_TRUE(fails_with(parse_icecast_admin(R"(<icestats><source mount="/a"><listeners>1</listeners><max_listeners>18446744073709551616</max_listeners></source></icestats>)"),
        "out of range"));
}

TEST(IcecastAdmin, WrongDocumentSaysSo)
{
    EXPECT_TRUE(fails_with(parse_icecast_admin("<load><mount name=\"/a\">5</mount></load>"),
        "root element is <load>, expected <icestats>"));
    EXPECT_TRUE(fails_with(parse_load_xsl(admin_stats), "root element is <icestats>, expected <load>"));
}

// ---- nginx-rtmp -----------------------------------------------------------------

// The shape of nginx-rtmp-module's /stat with rtmp_stat all (element order
// and names from ngx_rtmp_stat_module.c), written for these tests: /live/demo
// has a publisher and two players, /live/idle two players and no publisher,
// /radio/talk a publisher alone; a second server has an application of its
// own and one with files played on demand.
constexpr const char* rtmp_stat = R"(<?xml version="1.0" encoding="utf-8" ?>
<?xml-stylesheet type="text/xsl" href="stat.xsl" ?>
<rtmp>
<nginx_version>1.22.1</nginx_version>
<nginx_rtmp_version>1.1.4</nginx_rtmp_version>
<built>Jan  1 2026 00:00:00</built>
<pid>4242</pid>
<uptime>120</uptime>
<naccepted>9</naccepted>
<bw_in>1000</bw_in><bytes_in>9000</bytes_in><bw_out>2000</bw_out><bytes_out>18000</bytes_out>
<server>
<application>
<name>live</name>
<live>
<stream>
<name>demo</name>
<time>60000</time><bw_in>800</bw_in><bytes_in>7000</bytes_in><bw_out>1600</bw_out><bytes_out>14000</bytes_out>
<bw_audio>0</bw_audio><bw_video>800</bw_video>
<client><id>3</id><address>127.0.0.1</address><time>60000</time><flashver>FMLE/3.0 (compatible; Lavf59.27</flashver><dropped>0</dropped><avsync>0</avsync><timestamp>60000</timestamp><publishing/><active/></client>
<client><id>5</id><address>10.0.0.7</address><time>30000</time><flashver>LNX 9,0,124,2</flashver><dropped>0</dropped><avsync>0</avsync><timestamp>60000</timestamp><active/></client>
<client><id>6</id><address>10.0.0.8</address><time>20000</time><flashver>LNX 9,0,124,2</flashver><dropped>0</dropped><avsync>0</avsync><timestamp>60000</timestamp><active/></client>
<meta><video><width>160</width><height>120</height><frame_rate>10</frame_rate><codec>H264</codec><profile>High</profile><compat>0</compat><level>1.1</level></video><audio></audio></meta>
<nclients>3</nclients>
<publishing/>
<active/>
</stream>
<stream>
<name>idle</name>
<time>5000</time><bw_in>0</bw_in><bytes_in>0</bytes_in><bw_out>0</bw_out><bytes_out>0</bytes_out>
<bw_audio>0</bw_audio><bw_video>0</bw_video>
<client><id>7</id><address>10.0.0.9</address><time>5000</time><dropped>0</dropped><avsync>0</avsync><timestamp>0</timestamp></client>
<client><id>8</id><address>10.0.0.10</address><time>4000</time><dropped>0</dropped><avsync>0</avsync><timestamp>0</timestamp></client>
<nclients>2</nclients>
</stream>
<nclients>5</nclients>
</live>
</application>
<application>
<name>radio</name>
<live>
<stream>
<name>talk</name>
<time>1000</time><bw_in>0</bw_in><bytes_in>0</bytes_in><bw_out>0</bw_out><bytes_out>0</bytes_out>
<bw_audio>0</bw_audio><bw_video>0</bw_video>
<client><id>9</id><address>127.0.0.1</address><time>1000</time><dropped>0</dropped><avsync>0</avsync><timestamp>0</timestamp><publishing/><active/></client>
<nclients>1</nclients>
<publishing/>
<active/>
</stream>
<nclients>1</nclients>
</live>
</application>
</server>
<server>
<application>
<name>tv</name>
<live>
<stream><name>one</name><time>1</time><nclients>4</nclients><publishing/><active/></stream>
<nclients>4</nclients>
</live>
<play>
<stream><name>film.mp4</name><client><id>11</id><address>10.0.0.11</address><time>1</time><timestamp>0</timestamp></client><active/><nclients>1</nclients></stream>
<nclients>1</nclients>
</play>
</application>
</server>
</rtmp>
)";

TEST(NginxRtmp, PlayersAreListenersAndThePublisherIsNot)
{
    ParseResult r = parse_nginx_rtmp(rtmp_stat);
    EXPECT_TRUE(has_mount(r, "/live/demo", 2, unlimited, unlimited));
    EXPECT_TRUE(has_mount(r, "/radio/talk", 0, unlimited, unlimited));
    EXPECT_FALSE(r.server);
}

TEST(NginxRtmp, AStreamWithoutAPublisherHasNoSource)
{
    ParseResult r = parse_nginx_rtmp(rtmp_stat);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.mounts.contains("/live/idle"));
}

TEST(NginxRtmp, EveryServerAndApplicationIsReadButNotPlay)
{
    ParseResult r = parse_nginx_rtmp(rtmp_stat);
    // rtmp_stat live (no <client>): nclients less the one publisher
    EXPECT_TRUE(has_mount(r, "/tv/one", 3, unlimited, unlimited));
    EXPECT_FALSE(r.mounts.contains("/tv/film.mp4"));
    EXPECT_EQ(r.mounts.size(), 3u);
}

TEST(NginxRtmp, EmptyPagesAndStreamsWithoutANameAreFine)
{
    for (const char* doc : {"<rtmp/>", "<rtmp><server/></rtmp>",
             "<rtmp><server><application><name>live</name></application></server></rtmp>",
             "<rtmp><server><application><name>live</name><live><nclients>0</nclients></live></application></server></rtmp>",
             "<rtmp><server><application><name>live</name><live><stream><name></name><nclients>2</nclients>"
             "<publishing/></stream></live></application></server></rtmp>"}) {
        ParseResult r = parse_nginx_rtmp(doc);
        ASSERT_TRUE(r.ok) << doc << ": " << r.error;
        EXPECT_TRUE(r.mounts.empty()) << doc;
    }
}

TEST(NginxRtmp, ControlBytesInAStreamNameReadAsSpaces)
{
    ParseResult r = parse_nginx_rtmp("<rtmp><server><application><name>live</name><live>"
        "<stream><name>a\x01" "b</name><nclients>2</nclients><publishing/></stream>"
        "<stream><name>demo</name><nclients>2</nclients><publishing/></stream></live></application></server></rtmp>");
    EXPECT_TRUE(has_mount(r, "/live/demo", 1, unlimited, unlimited));
    EXPECT_TRUE(has_mount(r, "/live/a b", 1, unlimited, unlimited));
}

std::string rtmp_one(const std::string& stream, const std::string& app = "<name>live</name>")
{
    return "<rtmp><server><application>" + app + "<live><stream>" + stream
        + "</stream></live></application></server></rtmp>";
}

TEST(NginxRtmp, HostileCountsAndShapesFail)
{
    EXPECT_TRUE(fails_with(parse_nginx_rtmp(rtmp_one("<name>a</name><publishing/>")), "mount \"/live/a\": no <nclients>"));
    EXPECT_TRUE(fails_with(parse_nginx_rtmp(rtmp_one("<name>a</name><nclients>-1</nclients><publishing/>")),
        "<nclients>: \"-1\" is not a whole number"));
    EXPECT_TRUE(fails_with(parse_nginx_rtmp(rtmp_one("<name>a</name><nclients>4294967295</nclients>")), "out of range"));
    EXPECT_TRUE(fails_with(parse_nginx_rtmp(rtmp_one("<name>a</name><nclients>1e3</nclients>")), "<nclients>"));
    EXPECT_TRUE(fails_with(parse_nginx_rtmp(rtmp_one("<name>a</name><nclients>1</nclients><nclients>1</nclients>")),
        "<nclients> appears twice"));
    EXPECT_TRUE(fails_with(parse_nginx_rtmp(rtmp_one("<name>a</name><nclients><b/></nclients>")), "unexpected content"));
    // a publishing stream with no session at all
    EXPECT_TRUE(fails_with(parse_nginx_rtmp(rtmp_one("<name>a</name><nclients>0</nclients><publishing/>")),
        "more publishers than <nclients>"));
    EXPECT_TRUE(fails_with(parse_nginx_rtmp(rtmp_one("<name>a</name><client/><nclients>2</nclients><publishing/>")),
        "<nclients> is 2 but there are 1 <client>"));
    EXPECT_TRUE(fails_with(parse_nginx_rtmp(rtmp_one("<nclients>0</nclients>")), "stream: no <name>"));
    EXPECT_TRUE(fails_with(parse_nginx_rtmp(rtmp_one("<name>a</name><nclients>0</nclients>", "")),
        "application: no <name>"));
    EXPECT_TRUE(fails_with(parse_nginx_rtmp(rtmp_one("<name>a</name><nclients>0</nclients>", "<name/>")),
        "application: empty <name>"));
}

TEST(NginxRtmp, AMountSeenTwiceFailsTheDocument)
{
    const std::string app = "<application><name>live</name><live><stream><name>a</name><nclients>1</nclients>"
                            "<publishing/></stream></live></application>";
    EXPECT_TRUE(fails_with(parse_nginx_rtmp("<rtmp><server>" + app + "</server><server>" + app + "</server></rtmp>"),
        "mount \"/live/a\" appears twice"));
    // without a source in one of them too: which one a listener reaches is unknown
    std::string idle = app;
    idle.erase(idle.find("<publishing/>"), 13);
    EXPECT_TRUE(fails_with(parse_nginx_rtmp("<rtmp><server>" + idle + "</server><server>" + app + "</server></rtmp>"),
        "appears twice"));
}

TEST(NginxRtmp, BadXmlAndWrongDocumentsFail)
{
    EXPECT_FALSE(parse_nginx_rtmp("").ok);
    EXPECT_FALSE(parse_nginx_rtmp("<rtmp><server>").ok);
    EXPECT_FALSE(parse_nginx_rtmp("<!DOCTYPE rtmp [<!ENTITY a \"b\">]><rtmp/>").ok);
    EXPECT_TRUE(fails_with(parse_nginx_rtmp(admin_stats), "root element is <icestats>, expected <rtmp>"));
}

// ---- wowza ----------------------------------------------------------------------

// The nested shape of Wowza Streaming Engine's /connectioncounts, after its
// public description, written for these tests: vhost limit 100 with 9
// connections; live/_definst_ has two streams, live/studio one.
constexpr const char* wowza_nested = R"(<?xml version="1.0"?>
<WowzaStreamingEngine>
<ConnectionsCurrent>9</ConnectionsCurrent><ConnectionsTotal>40</ConnectionsTotal>
<ConnectionsTotalAccepted>40</ConnectionsTotalAccepted><ConnectionsTotalRejected>0</ConnectionsTotalRejected>
<MessagesInBytesRate>1000.0</MessagesInBytesRate><MessagesOutBytesRate>9000.0</MessagesOutBytesRate>
<VHost>
<Name>_defaultVHost_</Name><TimeRunning>3600.5</TimeRunning>
<ConnectionsLimit>100</ConnectionsLimit><ConnectionsCurrent>9</ConnectionsCurrent>
<ConnectionsTotal>40</ConnectionsTotal><ConnectionsTotalAccepted>40</ConnectionsTotalAccepted><ConnectionsTotalRejected>0</ConnectionsTotalRejected>
<MessagesInBytesRate>1000.0</MessagesInBytesRate><MessagesOutBytesRate>9000.0</MessagesOutBytesRate>
<Application>
<Name>live</Name><Status>loaded</Status><TimeRunning>3500.0</TimeRunning>
<ConnectionsCurrent>9</ConnectionsCurrent><ConnectionsTotal>40</ConnectionsTotal>
<ApplicationInstance>
<Name>_definst_</Name><TimeRunning>3500.0</TimeRunning><ConnectionsCurrent>7</ConnectionsCurrent>
<Stream><Name>camera</Name><SessionsFlash>2</SessionsFlash><SessionsCupertino>3</SessionsCupertino><SessionsSanJose>0</SessionsSanJose><SessionsSmooth>0</SessionsSmooth><SessionsRTSP>1</SessionsRTSP><SessionsMPEGDash>0</SessionsMPEGDash><SessionsTotal>6</SessionsTotal></Stream>
<Stream><Name>quiet</Name><SessionsFlash>0</SessionsFlash><SessionsCupertino>0</SessionsCupertino><SessionsSanJose>0</SessionsSanJose><SessionsSmooth>0</SessionsSmooth><SessionsRTSP>0</SessionsRTSP><SessionsMPEGDash>0</SessionsMPEGDash><SessionsTotal>0</SessionsTotal></Stream>
</ApplicationInstance>
<ApplicationInstance>
<Name>studio</Name><ConnectionsCurrent>2</ConnectionsCurrent>
<Stream><Name>mix</Name><SessionsFlash>1</SessionsFlash><SessionsCupertino>0</SessionsCupertino><SessionsSanJose>0</SessionsSanJose><SessionsSmooth>0</SessionsSmooth><SessionsRTSP>0</SessionsRTSP><SessionsMPEGDash>0</SessionsMPEGDash><SessionsTotal>1</SessionsTotal></Stream>
</ApplicationInstance>
</Application>
</VHost>
</WowzaStreamingEngine>
)";

// The same streams in the ?flat shape.
constexpr const char* wowza_flat = R"(<?xml version="1.0"?>
<WowzaStreamingEngine>
<Stream vhostName="_defaultVHost_" applicationName="live" appInstanceName="_definst_" streamName="camera" sessionsFlash="2" sessionsCupertino="3" sessionsSanJose="0" sessionsSmooth="0" sessionsRTSP="1" sessionsMPEGDash="0" sessionsTotal="6"/>
<Stream vhostName="_defaultVHost_" applicationName="live" appInstanceName="_definst_" streamName="quiet" sessionsFlash="0" sessionsCupertino="0" sessionsSanJose="0" sessionsSmooth="0" sessionsRTSP="0" sessionsMPEGDash="0" sessionsTotal="0"/>
<Stream vhostName="_defaultVHost_" applicationName="live" appInstanceName="studio" streamName="mix" sessionsFlash="1" sessionsCupertino="0" sessionsSanJose="0" sessionsSmooth="0" sessionsRTSP="0" sessionsMPEGDash="0" sessionsTotal="1"/>
</WowzaStreamingEngine>
)";

TEST(Wowza, NestedShapeReadsStreamsAndTheVHostLimit)
{
    ParseResult r = parse_wowza(wowza_nested);
    EXPECT_TRUE(has_mount(r, "/live/camera", 6, unlimited, unlimited));
    EXPECT_TRUE(has_mount(r, "/live/quiet", 0, unlimited, unlimited));
    EXPECT_TRUE(has_mount(r, "/live/studio/mix", 1, unlimited, unlimited));
    EXPECT_EQ(r.mounts.size(), 3u);
    ASSERT_TRUE(r.server);
    EXPECT_EQ(r.server->listeners, 9u);
    EXPECT_EQ(r.server->capacity, 100u);
}

TEST(Wowza, FlatShapeReadsTheSameStreamsWithoutALimit)
{
    ParseResult nested = parse_wowza(wowza_nested);
    ParseResult flat = parse_wowza(wowza_flat);
    ASSERT_TRUE(flat.ok) << flat.error;
    ASSERT_TRUE(nested.ok) << nested.error;
    ASSERT_EQ(flat.mounts.size(), nested.mounts.size());
    for (const auto& [mount, m] : nested.mounts)
        EXPECT_TRUE(has_mount(flat, mount, m.listeners, m.capacity, m.free));
    EXPECT_FALSE(flat.server);
}

TEST(Wowza, ListenersAreSessionsTotalElseTheSumOfTheProtocols)
{
    // SessionsTotal wins over the parts (Wowza counts protocols we do not name)
    ParseResult r = parse_wowza(R"(<WowzaStreamingEngine><Stream applicationName="a" streamName="s" sessionsFlash="1" sessionsTotal="5"/></WowzaStreamingEngine>)");
    EXPECT_TRUE(has_mount(r, "/a/s", 5, unlimited, unlimited));
    r = parse_wowza(R"(<WowzaStreamingEngine><Stream applicationName="a" appInstanceName="_definst_" streamName="s" sessionsFlash="1" sessionsCupertino="2" sessionsSanJose="3" sessionsSmooth="4" sessionsRTSP="5" sessionsMPEGDash="6"/></WowzaStreamingEngine>)");
    EXPECT_TRUE(has_mount(r, "/a/s", 21, unlimited, unlimited));
    r = parse_wowza("<WowzaMediaServer><VHost><Application><Name>a</Name><ApplicationInstance><Name>_definst_</Name>"
                    "<Stream><Name>s</Name><SessionsRTSP>4</SessionsRTSP><SessionsFlash>1</SessionsFlash></Stream>"
                    "</ApplicationInstance></Application></VHost></WowzaMediaServer>");
    EXPECT_TRUE(has_mount(r, "/a/s", 5, unlimited, unlimited));
    EXPECT_FALSE(r.server);   // no <ConnectionsLimit>
}

TEST(Wowza, LimitZeroIsUnlimitedAndVHostsAddUp)
{
    const std::string vhost = "<VHost><Name>v</Name><ConnectionsLimit>@</ConnectionsLimit><ConnectionsCurrent>3</ConnectionsCurrent></VHost>";
    auto with = [&](const char* a, const char* b) {
        std::string one = vhost;
        std::string two = vhost;
        one.replace(one.find('@'), 1, a);
        two.replace(two.find('@'), 1, b);
        return parse_wowza("<WowzaStreamingEngine>" + one + two + "</WowzaStreamingEngine>");
    };
    ParseResult r = with("10", "20");
    ASSERT_TRUE(r.ok && r.server) << r.error;
    EXPECT_EQ(r.server->capacity, 30u);
    EXPECT_EQ(r.server->listeners, 6u);
    r = with("10", "0");
    ASSERT_TRUE(r.ok && r.server) << r.error;
    EXPECT_EQ(r.server->capacity, unlimited);
    r = with("4294967294", "4294967294");
    ASSERT_TRUE(r.ok && r.server) << r.error;
    EXPECT_EQ(r.server->capacity, 4294967294u);
}

TEST(Wowza, NoStreamsAndStreamsWithoutANameAreFine)
{
    for (const char* doc : {"<WowzaStreamingEngine/>", "<WowzaStreamingEngine><VHost><Name>v</Name></VHost></WowzaStreamingEngine>",
             R"(<WowzaStreamingEngine><Stream applicationName="a" streamName="" sessionsTotal="1"/></WowzaStreamingEngine>)"}) {
        ParseResult r = parse_wowza(doc);
        ASSERT_TRUE(r.ok) << doc << ": " << r.error;
        EXPECT_TRUE(r.mounts.empty()) << doc;
    }
}

TEST(Wowza, HostileCountsAndShapesFail)
{
    auto flat = [](const std::string& attrs) {
        return parse_wowza("<WowzaStreamingEngine><Stream applicationName=\"a\" streamName=\"s\" " + attrs
            + "/></WowzaStreamingEngine>");
    };
    EXPECT_TRUE(fails_with(flat("sessionsTotal=\"-1\""), "mount \"/a/s\": sessionsTotal: \"-1\" is not a whole number"));
    EXPECT_TRUE(fails_with(flat("sessionsTotal=\"4294967295\""), "out of range"));
    EXPECT_TRUE(fails_with(flat("sessionsFlash=\"1.5\""), "sessionsFlash"));
    EXPECT_TRUE(fails_with(flat(""), "no session counts"));
    EXPECT_TRUE(fails_with(flat("sessionsFlash=\"4294967294\" sessionsRTSP=\"4294967294\""), "sessions add up to 8589934588"));
    EXPECT_TRUE(fails_with(parse_wowza(R"(<WowzaStreamingEngine><Stream streamName="s" sessionsTotal="1"/></WowzaStreamingEngine>)"),
        "without an applicationName"));
    EXPECT_TRUE(fails_with(parse_wowza(R"(<WowzaStreamingEngine><Stream applicationName="a" streamName="s" sessionsTotal="1"/><Stream applicationName="a" appInstanceName="_definst_" streamName="s" sessionsTotal="2"/></WowzaStreamingEngine>)"),
        "mount \"/a/s\" appears twice"));

    auto nested = [](const std::string& vhost, const std::string& stream) {
        return parse_wowza("<WowzaStreamingEngine><VHost>" + vhost + "<Application><Name>a</Name><ApplicationInstance>"
            "<Name>_definst_</Name><Stream>" + stream + "</Stream></ApplicationInstance></Application></VHost>"
            "</WowzaStreamingEngine>");
    };
    EXPECT_TRUE(fails_with(nested("", "<Name>s</Name><SessionsTotal>x</SessionsTotal>"), "<SessionsTotal>"));
    EXPECT_TRUE(fails_with(nested("", "<Name>s</Name><SessionsTotal>1</SessionsTotal><SessionsTotal>1</SessionsTotal>"),
        "<SessionsTotal> appears twice"));
    EXPECT_TRUE(fails_with(nested("", "<SessionsTotal>1</SessionsTotal>"), "Stream: no <Name>"));
    EXPECT_TRUE(fails_with(nested("<ConnectionsLimit>-5</ConnectionsLimit><ConnectionsCurrent>1</ConnectionsCurrent>",
        "<Name>s</Name><SessionsTotal>1</SessionsTotal>"), "VHost: <ConnectionsLimit>"));
    EXPECT_TRUE(fails_with(nested("<ConnectionsLimit>5</ConnectionsLimit>", "<Name>s</Name><SessionsTotal>1</SessionsTotal>"),
        "<ConnectionsLimit> without <ConnectionsCurrent>"));
    EXPECT_TRUE(fails_with(parse_wowza("<WowzaStreamingEngine><VHost><Application><Name/></Application></VHost></WowzaStreamingEngine>"),
        "Application: empty <Name>"));
}

TEST(Wowza, BadXmlAndWrongDocumentsFail)
{
    EXPECT_FALSE(parse_wowza("").ok);
    EXPECT_FALSE(parse_wowza("<WowzaStreamingEngine>").ok);
    EXPECT_FALSE(parse_wowza(R"(<WowzaStreamingEngine><Stream applicationName="a&b" /></WowzaStreamingEngine>)").ok);
    EXPECT_TRUE(fails_with(parse_wowza(rtmp_stat), "root element is <rtmp>, expected <WowzaStreamingEngine>"));
}

}  // namespace
}  // namespace tuneslot
