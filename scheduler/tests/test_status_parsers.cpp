// Unit tests of the status document parsers (load-xsl, icecast-admin).

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

}  // namespace
}  // namespace tuneslot
