"""tuneslotd's status formats end to end: icecast-json against a real Icecast
2.4, the SHOUTcast formats against pages shaped from SHOUTcast's published
documentation (served by the status_server fixture), and the operator's
max_listeners / max_clients caps."""

import base64
import json
import time
import urllib.parse

from test_scheduler import assert_log_clean, config, counts, read_snapshot, icecast_backend

UNLIMITED = "unlimited"


def json_backend(name, ice, max_listeners, **extra):
    """An icecast-json [[backend]] for a harness Icecast."""
    b = {"name": name, "format": "icecast-json", "status": ice.url("/status-json.xsl"),
         "public": ice.base_url, "max_listeners": max_listeners}
    b.update(extra)
    return b


def wait_for_valid_json(ice, timeout=5.0):
    """Icecast 2.4.4 writes invalid JSON ({"icestats":"server_start":...) for
    about 0.3 s after it starts, until its stats thread has filled in the
    global keys (seen on this machine); a poll then fails with parse: ..."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return json.loads(ice.get("/status-json.xsl"))
        except ValueError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def fake_backend(name, url, fmt, **extra):
    b = {"name": name, "format": fmt, "status": url, "public": f"http://{name}.example.net:8000"}
    b.update(extra)
    return b


# ---- icecast-json against real Icecast 2.4 ---------------------------------------------------

def test_icecast_json_one_source_many_and_none(redis_server, make_icecast, make_source, make_listener,
                                               make_tuneslotd):
    """icecast-json reads Icecast's status-json.xsl whether source is absent, an object or an array."""
    ice = make_icecast(max_listeners={"/lim": 5})
    cfg = config(redis_server, [json_backend("ice", ice, 5)], {"lim": "/lim", "unl": "/unl"})

    # no source: Icecast leaves "source" out
    assert "source" not in wait_for_valid_json(ice)["icestats"]
    t = make_tuneslotd(cfg, name="none")
    assert t.run_once() == 0
    _, snap = read_snapshot(redis_server)
    assert snap.backends["ice"].health == "up"
    assert counts(snap.slot("lim", "ice")) == ("nosource", 0, 0, 0)
    assert counts(snap.slot("unl", "ice")) == ("nosource", 0, 0, 0)

    # one source: an object
    make_source(ice, "/lim")
    make_listener(ice, "/lim")
    ice.wait_for_listeners("/lim", 1)
    assert b'"source":{' in ice.get("/status-json.xsl")
    t = make_tuneslotd(cfg, name="one")
    assert t.run_once() == 0
    _, snap = read_snapshot(redis_server)
    assert counts(snap.slot("lim", "ice")) == ("up", 1, 5, 4)
    assert snap.slot("unl", "ice").health == "nosource"

    # two sources: an array
    make_source(ice, "/unl", 660)
    make_listener(ice, "/unl")
    make_listener(ice, "/unl")
    ice.wait_for_listeners("/unl", 2)
    assert b'"source":[' in ice.get("/status-json.xsl")
    t = make_tuneslotd(cfg, name="two")
    assert t.run_once() == 0
    _, snap = read_snapshot(redis_server)
    assert counts(snap.slot("lim", "ice")) == ("up", 1, 5, 4)
    assert counts(snap.slot("unl", "ice")) == ("up", 2, 5, 3)     # capacity from max_listeners
    assert_log_clean(t)


def test_icecast_json_agrees_with_icecast_admin(redis_server, make_icecast, make_source, make_listener,
                                                make_tuneslotd):
    """For a mount whose <max-listeners> equals the backend's max_listeners, icecast-json and icecast-admin agree."""
    ice = make_icecast(max_listeners={"/demo": 4})
    make_source(ice, "/demo")
    for _ in range(3):
        make_listener(ice, "/demo")
    ice.wait_for_listeners("/demo", 3)
    t = make_tuneslotd(config(redis_server, [json_backend("json", ice, 4), icecast_backend("admin", ice, "icecast-admin")],
                              {"demo": "/demo"}))
    assert t.run_once() == 0
    _, snap = read_snapshot(redis_server)
    assert counts(snap.slot("demo", "json")) == ("up", 3, 4, 1)
    assert counts(snap.slot("demo", "json")) == counts(snap.slot("demo", "admin"))
    assert snap.slot("demo", "json").url == ice.url("/demo")
    assert_log_clean(t)


def test_icecast_json_survives_control_characters_in_a_title(redis_server, make_icecast, make_source, make_listener,
                                                            make_tuneslotd):
    """A stream title with control characters, which Icecast 2.4.4 copies unescaped into its JSON, keeps the backend up."""
    ice = make_icecast()
    make_source(ice, "/demo")
    make_listener(ice, "/demo")
    ice.wait_for_listeners("/demo", 1)
    query = urllib.parse.urlencode({"mount": "/demo", "mode": "updinfo", "song": "bad\x01title\x1f"})
    ice.get("/admin/metadata?" + query, auth=True)
    deadline = time.monotonic() + 5
    while b"bad\x01title\x1f" not in ice.get("/status-json.xsl"):     # raw: not valid JSON
        assert time.monotonic() < deadline, "Icecast did not take the title"
        time.sleep(0.05)
    t = make_tuneslotd(config(redis_server, [json_backend("ice", ice, 7)], {"demo": "/demo"}))
    assert t.run_once() == 0
    _, snap = read_snapshot(redis_server)
    assert snap.backends["ice"].health == "up", snap.backends["ice"].reason
    assert counts(snap.slot("demo", "ice")) == ("up", 1, 7, 6)
    assert_log_clean(t)


def test_icecast_json_without_max_listeners_is_a_config_error(redis_server, make_icecast, make_tuneslotd):
    """format = "icecast-json" without max_listeners is refused at start, naming the key."""
    ice = make_icecast()
    backend = json_backend("ice", ice, 5)
    del backend["max_listeners"]
    t = make_tuneslotd(config(redis_server, [backend], {"demo": "/demo"}))
    t.allow(r"\[emerg\]")
    assert t.run_once(timeout=10) == 1
    assert 'backend[1].max_listeners: missing (required with format = "icecast-json"' in t.log_text()
    assert redis_server.generation() is None


# ---- the operator's caps against real Icecast -----------------------------------------------------

def test_max_listeners_and_max_clients_cap_what_icecast_reports(redis_server, make_icecast, make_source,
                                                                make_listener, make_tuneslotd):
    """max_listeners caps each mount's capacity; max_clients caps the free slots of all mounts together."""
    ice = make_icecast(max_listeners={"/a": 10})
    make_source(ice, "/a")
    make_source(ice, "/b", 660)
    for _ in range(2):
        make_listener(ice, "/a")
    for _ in range(3):
        make_listener(ice, "/b")
    ice.wait_for_listeners("/a", 2)
    ice.wait_for_listeners("/b", 3)
    t = make_tuneslotd(config(redis_server, [
        icecast_backend("plain", ice),
        icecast_backend("capped", ice, max_listeners=4),
        icecast_backend("server", ice, max_clients=8),
        icecast_backend("both", ice, "icecast-admin", max_listeners=4, max_clients=6),
    ], {"a": "/a", "b": "/b"}))
    assert t.run_once() == 0
    _, snap = read_snapshot(redis_server)
    assert counts(snap.slot("a", "plain")) == ("up", 2, 10, 8)
    assert counts(snap.slot("b", "plain")) == ("up", 3, UNLIMITED, UNLIMITED)
    assert counts(snap.slot("a", "capped")) == ("up", 2, 4, 2)
    assert counts(snap.slot("b", "capped")) == ("up", 3, 4, 1)
    # 5 listeners on the server, 8 allowed: 3 left for either mount
    assert counts(snap.slot("a", "server")) == ("up", 2, 10, 3)
    assert counts(snap.slot("b", "server")) == ("up", 3, UNLIMITED, 3)
    assert counts(snap.slot("a", "both")) == ("up", 2, 4, 1)
    assert counts(snap.slot("b", "both")) == ("up", 3, 4, 1)
    assert_log_clean(t)


# ---- SHOUTcast 2: /statistics?json=1 ------------------------------------------------------------

# Shaped from the DNAS 2 JSON responses documentation (/statistics?json=1):
# server-wide figures, then one entry per configured stream; bitrate and
# samplerate are strings there.
DNAS2 = """{"totalstreams":3,"activestreams":2,"currentlisteners":%(server)d,"peaklisteners":40,
"maxlisteners":%(server_max)d,"uniquelisteners":18,"averagetime":600,"version":"2.6.1.777 (posix(linux x64))",
"streams":[
{"id":1,"currentlisteners":12,"peaklisteners":30,"maxlisteners":50,"uniquelisteners":11,"averagetime":700,
 "servergenre":"Misc","servergenre2":"","servergenre3":"","servergenre4":"","servergenre5":"",
 "serverurl":"http://radio.example.net","servertitle":"Caf\\u00e9 One","songtitle":"A - B","streamhits":99,
 "streamstatus":1,"backupstatus":0,"streamlisted":1,"streamlistederror":0,"streampath":"/live",
 "streamuptime":3600,"bitrate":"128","samplerate":"44100","content":"audio/mpeg"},
{"id":2,"currentlisteners":"7","peaklisteners":"9","maxlisteners":"20","uniquelisteners":"7","averagetime":"60",
 "servertitle":"Two","songtitle":"","streamhits":7,"streamstatus":"1","backupstatus":0,"streamlisted":0,
 "streamlistederror":0,"streampath":"/stream/2/","streamuptime":60,"bitrate":"64","samplerate":"22050",
 "content":"audio/aacp"},
{"id":3,"currentlisteners":0,"peaklisteners":0,"maxlisteners":50,"uniquelisteners":0,"averagetime":0,
 "servertitle":"","songtitle":"","streamhits":0,"streamstatus":0,"backupstatus":0,"streamlisted":0,
 "streamlistederror":0,"streampath":"/night","streamuptime":0,"bitrate":"0","samplerate":"0","content":""}
]}"""


def test_shoutcast2_streams_server_limit_and_nosource(redis_server, status_server, make_tuneslotd):
    """shoutcast2 maps each streampath to a mount, bounds free slots by the server-wide limit, and streamstatus 0 is nosource."""
    roomy = status_server.route("/roomy/statistics?json=1", body=DNAS2 % {"server": 19, "server_max": 100},
                                content_type="application/json")
    tight = status_server.route("/tight/statistics?json=1", body=DNAS2 % {"server": 19, "server_max": 24},
                                content_type="application/json")
    full = status_server.route("/full/statistics?json=1", body=DNAS2 % {"server": 64, "server_max": 64},
                               content_type="application/json")
    t = make_tuneslotd(config(redis_server, [
        fake_backend("roomy", roomy, "shoutcast2"),
        fake_backend("tight", tight, "shoutcast2"),
        fake_backend("full", full, "shoutcast2"),
        fake_backend("capped", roomy, "shoutcast2", max_listeners=15, max_clients=30),
    ], {"live": "/live", "two": "/stream/2/", "night": "/night"}))
    assert t.run_once() == 0
    _, snap = read_snapshot(redis_server)
    assert counts(snap.slot("live", "roomy")) == ("up", 12, 50, 38)
    assert counts(snap.slot("two", "roomy")) == ("up", 7, 20, 13)
    assert counts(snap.slot("night", "roomy")) == ("nosource", 0, 0, 0)
    assert counts(snap.slot("live", "tight")) == ("up", 12, 50, 5)       # 24 - 19 left on the server
    assert counts(snap.slot("two", "tight")) == ("up", 7, 20, 5)
    assert counts(snap.slot("live", "full")) == ("up", 12, 50, 0)
    assert counts(snap.slot("live", "capped")) == ("up", 12, 15, 3)
    assert counts(snap.slot("two", "capped")) == ("up", 7, 15, 8)
    assert snap.slot("two", "roomy").url == "http://roomy.example.net:8000/stream/2/"
    assert "stream night on roomy: no source on mount /night" in t.log_text()
    assert_log_clean(t, warnings_ok=True)


def test_shoutcast2_bad_pages_are_down_with_reasons(redis_server, status_server, make_tuneslotd):
    """shoutcast2 pages that are not DNAS 2 statistics fail the poll with a reason that says what is wrong."""
    s = status_server
    cases = {
        "v1": (s.route("/v1", body="<html><body>Invalid resource</body></html>", content_type="text/html"),
               "parse: parse error at line 1, column 1"),
        "nostreams": (s.route("/nostreams", body='{"currentlisteners":0,"maxlisteners":5}'),
                      'parse: no "streams" array'),
        "negative": (s.route("/negative", body='{"currentlisteners":0,"maxlisteners":5,"streams":[{"streampath":'
                                               '"/live","currentlisteners":-4,"maxlisteners":5,"streamstatus":1}]}'),
                     'parse: mount "/live": "currentlisteners": "-4" is not a whole number >= 0'),
        "absurd": (s.route("/absurd", body='{"currentlisteners":99999999999999999999999,"maxlisteners":5,'
                                           '"streams":[]}'),
                   'parse: server: "currentlisteners": "99999999999999999999999" is out of range'),
        "overflow": (s.route("/overflow", body='{"currentlisteners":1e400,"maxlisteners":5,"streams":[]}'),
                     "parse: number overflow parsing '1e400'"),
    }
    t = make_tuneslotd(config(redis_server, [fake_backend(n, url, "shoutcast2") for n, (url, _) in cases.items()],
                              {"live": "/live"}))
    assert t.run_once() == 0
    _, snap = read_snapshot(redis_server)
    for name, (_, reason) in cases.items():
        assert snap.backends[name].health == "down", name
        assert snap.backends[name].reason.startswith(reason), (name, snap.backends[name].reason)
        assert counts(snap.slot("live", name)) == ("down", 0, 0, 0)


# ---- SHOUTcast 1: /admin.cgi?mode=viewxml --------------------------------------------------------

# Shaped from DNAS 1.9.8's admin.cgi?mode=viewxml: no encoding declared, and
# the title in ISO-8859-1 as the source sent it.
DNAS1 = (b'<?xml version="1.0" standalone="yes" ?>\n<SHOUTCASTSERVER><CURRENTLISTENERS>%d</CURRENTLISTENERS>'
         b'<PEAKLISTENERS>9</PEAKLISTENERS><MAXLISTENERS>32</MAXLISTENERS><REPORTEDLISTENERS>3</REPORTEDLISTENERS>'
         b'<AVERAGETIME>120</AVERAGETIME><SERVERGENRE>Misc</SERVERGENRE><SERVERURL>http://radio.example.net'
         b'</SERVERURL><SERVERTITLE>Caf\xe9 Radio</SERVERTITLE><SONGTITLE>Mot\xf6rhead - Ace</SONGTITLE>'
         b'<SONGURL></SONGURL><IRC>N/A</IRC><ICQ>0</ICQ><AIM>N/A</AIM><WEBHITS>50</WEBHITS>'
         b'<STREAMHITS>20</STREAMHITS><STREAMSTATUS>%d</STREAMSTATUS><BITRATE>128</BITRATE>'
         b'<CONTENT>audio/mpeg</CONTENT><VERSION>1.9.8</VERSION><WEBDATA><INDEX>1</INDEX><LISTEN>1</LISTEN>'
         b'<VIEWXML>7</VIEWXML></WEBDATA><LISTENERS><LISTENER><HOSTNAME>192.0.2.7</HOSTNAME>'
         b'<USERAGENT>WinampMPEG/5.66</USERAGENT><UNDERRUNS>0</UNDERRUNS><CONNECTTIME>70</CONNECTTIME>'
         b'<POINTER>0</POINTER><UID>1</UID></LISTENER></LISTENERS><SONGHISTORY><SONG><PLAYEDAT>1763712000'
         b'</PLAYEDAT><TITLE>Mot\xf6rhead - Ace</TITLE></SONG></SONGHISTORY></SHOUTCASTSERVER>')


def test_shoutcast1_one_stream_with_basic_auth(redis_server, status_server, make_tuneslotd):
    """shoutcast1 polls admin.cgi with basic auth (never logging the password), reads its one stream as mount "/", STREAMSTATUS 0 is nosource."""
    live = status_server.route("/admin.cgi?mode=viewxml", body=DNAS1 % (3, 1), content_type="text/xml")
    idle = status_server.route("/idle/admin.cgi?mode=viewxml", body=DNAS1 % (0, 0), content_type="text/xml")
    t = make_tuneslotd(config(redis_server, [
        fake_backend("v1", live, "shoutcast1", password="s3cr3t pass"),
        fake_backend("idle", idle, "shoutcast1", username="dj", password="other"),
    ], {"radio": "/"}))
    assert t.run_once() == 0
    _, snap = read_snapshot(redis_server)
    assert counts(snap.slot("radio", "v1")) == ("up", 3, 32, 29)
    assert snap.slot("radio", "v1").url == "http://v1.example.net:8000/"
    assert counts(snap.slot("radio", "idle")) == ("nosource", 0, 0, 0)
    auth = {path: headers.get("Authorization") for path, headers in status_server.requests}
    assert auth["/admin.cgi?mode=viewxml"] == "Basic " + base64.b64encode(b"admin:s3cr3t pass").decode()
    assert auth["/idle/admin.cgi?mode=viewxml"] == "Basic " + base64.b64encode(b"dj:other").decode()
    log = t.log_text()
    assert "s3cr3t" not in log and base64.b64encode(b"admin:s3cr3t pass").decode() not in log
    assert_log_clean(t, warnings_ok=True)


def test_shoutcast1_wrong_password_and_wrong_page(redis_server, status_server, make_tuneslotd):
    """A refused password (HTTP 401, or DNAS 1's HTML login page) makes the backend down with a reason."""
    denied = status_server.route("/denied/admin.cgi?mode=viewxml", status=401, body="")
    html = status_server.route("/html/admin.cgi?mode=viewxml", content_type="text/html",
                               body="<html><head><title>SHOUTcast Administrator</title></head><body>"
                                    "Invalid password</body></html>")
    t = make_tuneslotd(config(redis_server, [
        fake_backend("denied", denied, "shoutcast1", password="x"),
        fake_backend("html", html, "shoutcast1", password="x"),
    ], {"radio": "/"}))
    assert t.run_once() == 0
    _, snap = read_snapshot(redis_server)
    assert snap.backends["denied"].reason == "HTTP 401"
    assert snap.backends["html"].reason == "parse: root element is <html>, expected <SHOUTCASTSERVER> " \
                                           "(check the backend's status URL and format)"


# ---- wowza: digest authentication ------------------------------------------------------------

WOWZA_FLAT = (b'<?xml version="1.0"?>\n<WowzaStreamingEngine>\n'
              b'<Stream vhostName="_defaultVHost_" applicationName="live" appInstanceName="_definst_" '
              b'streamName="camera" sessionsFlash="2" sessionsCupertino="3" sessionsSanJose="0" '
              b'sessionsSmooth="0" sessionsRTSP="1" sessionsMPEGDash="0" sessionsTotal="6"/>\n'
              b'</WowzaStreamingEngine>\n')


class DigestServer:
    """Wowza's HTTP provider as it asks for credentials: 401 offering Digest (MD5, qop auth)
    and Basic, and the page for a request whose Digest response is right (RFC 7616, computed
    here from the password).  Records the Authorization headers it was sent."""

    def __init__(self, user, password, realm="Streaming"):
        import hashlib
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.authorizations = []
        server = self
        nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093"

        def md5(text):
            return hashlib.md5(text.encode()).hexdigest()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self):
                auth = self.headers.get("Authorization")
                server.authorizations.append(auth)
                if auth and auth.startswith("Digest "):
                    p = dict((k, v.strip('"')) for k, v in
                             (part.strip().split("=", 1) for part in
                              auth[len("Digest "):].split(",")))
                    ha1 = md5(f"{user}:{realm}:{password}")
                    ha2 = md5(f"GET:{p.get('uri')}")
                    want = md5(f"{ha1}:{nonce}:{p.get('nc')}:{p.get('cnonce')}:{p.get('qop')}:{ha2}")
                    if p.get("username") == user and p.get("response") == want:
                        self.send_response(200)
                        self.send_header("Content-Type", "text/xml")
                        self.send_header("Content-Length", str(len(WOWZA_FLAT)))
                        self.end_headers()
                        self.wfile.write(WOWZA_FLAT)
                        return
                self.send_response(401)
                self.send_header("WWW-Authenticate",
                                 f'Digest realm="{realm}", nonce="{nonce}", qop="auth", '
                                 'algorithm=MD5')
                self.send_header("WWW-Authenticate", f'Basic realm="{realm}"')
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_wowza_with_digest_authentication(redis_server, make_tuneslotd):
    """wowza polls a provider that offers Digest and Basic: tuneslotd answers the Digest
    challenge (the password never sent as it is), reads the page, and logs no secret."""
    wowza = DigestServer("monitor", "s3cr3t pass")
    try:
        t = make_tuneslotd(config(redis_server, [
            fake_backend("wz", wowza.url("/connectioncounts?flat"), "wowza", username="monitor",
                         password="s3cr3t pass", max_listeners=50),
        ], {"camera": "/live/camera"}))
        assert t.run_once() == 0
        _, snap = read_snapshot(redis_server)
        assert counts(snap.slot("camera", "wz")) == ("up", 6, 50, 44)
        sent = [a for a in wowza.authorizations if a]
        assert sent and all(a.startswith("Digest ") for a in sent), wowza.authorizations
        assert all("s3cr3t" not in a for a in sent)
        assert "s3cr3t" not in t.log_text()
    finally:
        wowza.stop()
