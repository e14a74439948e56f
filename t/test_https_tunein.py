"""HTTPS tune-ins go to https:// slots (both front-ends): a web player on an https:// page
cannot play an http:// stream, the browser blocks it as mixed content.  Real nginx and Apache
with a real TLS listener (a self-signed certificate made by the test), real Redis holding
snapshots of the test's own making, and, for the proxy fallback, a real streaming backend."""

import http.client
import json
import re
import socket
import ssl
import subprocess
import time

import pytest

from harness import free_port, slot, snapshot_text, wait_until
from harness.apache import STATUS_LOCATION
from harness.icy_server import IcyServer
from harness.nginx import Nginx

HTTP_A = "http://a.example.net:8000/demo"
HTTPS_B = "https://b.example.net/demo"
HTTPS_C = "https://c.example.net/demo"
RTMP_D = "rtmp://d.example.net:1935/live/demo"
FULL = "https://overflow.example.net/demo"
FULL_HTTP = "http://overflow.example.net/demo"


def make_certificate(run_dir):
    """A self-signed certificate for 127.0.0.1, and its key."""
    cert, key = run_dir / "tls.crt", run_dir / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class Front:
    """One front-end under test: its plain port and its TLS port."""

    def __init__(self, server, tls_port, cert):
        self.server = server
        self.tls_port = tls_port
        self.context = ssl.create_default_context(cafile=str(cert))

    def get(self, path, *, tls, headers=None, body_bytes=0):
        """(status, headers, first body_bytes of the body), redirects not followed."""
        if tls:
            conn = http.client.HTTPSConnection("127.0.0.1", self.tls_port, timeout=5,
                                               context=self.context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=5)
        try:
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            body = r.read(body_bytes) if body_bytes else r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            conn.close()

    def location(self, path, **kw):
        status, headers, _ = self.get(path, **kw)
        assert status == 302, (path, status, headers)
        return headers["location"]

    def wait_for_generation(self, generation):
        deadline = time.monotonic() + 5
        while True:
            status, _, body = self.get("/tune-status", tls=False)
            if status == 200 and (json.loads(body).get("snapshot") or {}).get(
                    "generation") == generation:
                return
            assert time.monotonic() < deadline, f"generation {generation} not installed"
            time.sleep(0.05)


def nginx_locations(backend_port):
    return (
        "location /tune/ { tune; }\n"
        "location /full/ { tune; tune_full " + FULL + "; }\n"
        "location /full-http/ { tune; tune_full " + FULL_HTTP + "; }\n"
        "location /any/ { tune; tune_https_only off; }\n"
        "location /media/ { tune; tune_schemes http https rtmp; }\n"
        "location /http-only/ { tune; tune_schemes http; }\n"
        "location /fwd/ { tune; tune_https_proxies 127.0.0.1/32; }\n"
        "location /fwd-other/ { tune; tune_https_proxies 10.0.0.0/8; }\n"
        "location /fallback/ { tune; tune_https_fallback proxy; proxy_pass $tune_url; "
        "proxy_buffering off; }\n"
        "location = /tune-status { tune_status; }\n"
        "location / { return 404; }\n")


def apache_locations():
    def loc(prefix, extra=""):
        return (f'<Location "{prefix}">\n    SetHandler tune\n{extra}'
                '    Require all granted\n</Location>\n')
    return (loc("/tune/")
            + loc("/full/", f"    TuneFull {FULL}\n")
            + loc("/full-http/", f"    TuneFull {FULL_HTTP}\n")
            + loc("/reserve/", "    TuneMode proxy\n    TuneProxyReserve 100000\n")
            + loc("/fallback-reserve/",
                  "    TuneHttpsFallback proxy\n    TuneProxyReserve 100000\n")
            + loc("/any/", "    TuneHttpsOnly Off\n")
            + loc("/media/", "    TuneSchemes http https rtmp\n")
            + loc("/http-only/", "    TuneSchemes http\n")
            + loc("/fwd/", "    TuneHttpsProxies 127.0.0.1\n")
            + loc("/fwd-other/", "    TuneHttpsProxies 10.0.0.0/8\n")
            + loc("/fallback/", "    TuneHttpsFallback proxy\n")
            + STATUS_LOCATION)


@pytest.fixture(params=["nginx", "apache"])
def front(request, run_dir, processes, redis_server, make_tune_apache):
    """front(text) -> Front: nginx or Apache (the test's parameter) with text installed as
    generation 1, a plain and a TLS listener, the locations above."""
    cert, key = make_certificate(run_dir)
    tls_port = free_port()

    def make(text):
        redis_server.put_snapshot(text, 1)
        if request.param == "nginx":
            n = Nginx(run_dir, redis_server.address, refresh="50ms", herd_window="0",
                      server_conf=(f"listen 127.0.0.1:{tls_port} ssl;\n"
                                   f"ssl_certificate {cert};\n"
                                   f"ssl_certificate_key {key};\n"),
                      locations=nginx_locations(0))
            processes.append(n)
            n.start()
            server = n
        else:
            tls = (f"Listen 127.0.0.1:{tls_port}\n"
                   f"<VirtualHost 127.0.0.1:{tls_port}>\n"
                   "    SSLEngine on\n"
                   f"    SSLCertificateFile {cert}\n"
                   f"    SSLCertificateKeyFile {key}\n"
                   "</VirtualHost>\n")
            server = make_tune_apache(redis_server.address,
                                      modules=("proxy", "proxy_http", "socache_shmcb", "ssl"),
                                      log_level="warn tune:info",
                                      locations=apache_locations() + tls)
        f = Front(server, tls_port, cert)
        f.wait_for_generation(1)
        return f
    return make


def draw(f, path, n=40, **kw):
    return {f.location(path, **kw) for _ in range(n)}


def test_https_tunein_goes_to_https_slots_only(front):
    """The same stream, asked over HTTPS and over plain HTTP: HTTPS tune-ins land on its
    https:// slots alone (the http:// one has twenty times the room), plain ones on the web
    slots of either scheme, and no tune-in on the rtmp:// slot; the playlists follow."""
    f = front(snapshot_text(slot("a", HTTP_A, 2000), slot("b", HTTPS_B, 100),
                            slot("c", HTTPS_C, 100), slot("d", RTMP_D, 100000)))

    assert draw(f, "/tune/demo", tls=True) == {HTTPS_B, HTTPS_C}
    plain = draw(f, "/tune/demo", n=60, tls=False)
    assert HTTP_A in plain and plain <= {HTTP_A, HTTPS_B, HTTPS_C}

    for suffix, pattern in ((".m3u", r"^(\S+://\S+)$"), (".pls", r"^File\d+=(\S+)$")):
        status, _, body = f.get("/tune/demo" + suffix, tls=True)
        assert status == 200, (suffix, status)
        urls = set(re.findall(pattern, body.decode(), re.M))
        assert urls == {HTTPS_B, HTTPS_C}, (suffix, body)

        status, _, body = f.get("/tune/demo" + suffix, tls=False)
        urls = set(re.findall(pattern, body.decode(), re.M))
        assert urls == {HTTP_A, HTTPS_B, HTTPS_C}, (suffix, body)


def test_no_https_slot_with_room_is_full(front):
    """Only http:// slots have room: an HTTPS tune-in is answered as a full stream (503,
    or the tune_full URL where one is set), with the reason in the log; a stream whose only
    slot is rtmp:// is never redirected to by either."""
    f = front(snapshot_text(slot("a", HTTP_A, 100), slot("b", HTTPS_B, 0),
                            slot("d", RTMP_D, 100, stream="video")))

    status, headers, _ = f.get("/tune/demo", tls=True)
    assert status == 503 and "location" not in headers, (status, headers)
    assert "retry-after" in headers
    assert re.search(r'tune: "demo" not answered with a slot: no slot of the listener\'s '
                     r"scheme has room", f.server.error_log_text())

    assert f.location("/full/demo", tls=True) == FULL
    # an http:// overflow URL is mixed content too: not for an HTTPS tune-in
    status, headers, _ = f.get("/full-http/demo", tls=True)
    assert status == 503 and "location" not in headers, (status, headers)
    assert 'URL is not https://, as an HTTPS tune-in needs' in f.server.error_log_text()
    assert f.location("/tune/demo", tls=False) == HTTP_A
    assert f.location("/any/demo", tls=True) == HTTP_A

    for tls in (True, False):
        status, headers, _ = f.get("/tune/video", tls=tls)
        assert status == 503 and "location" not in headers, (tls, status, headers)


def test_forwarded_proto_counts_from_listed_proxies_only(front):
    """Plain HTTP with "X-Forwarded-Proto: https" is an HTTPS tune-in where its peer is a
    listed proxy (the last entry of a list counts), and an ordinary one elsewhere."""
    f = front(snapshot_text(slot("a", HTTP_A, 100000), slot("b", HTTPS_B, 1)))
    https = {"X-Forwarded-Proto": "https"}

    assert draw(f, "/fwd/demo", tls=False, headers=https) == {HTTPS_B}
    assert draw(f, "/fwd/demo", tls=False, headers={"X-Forwarded-Proto": "http, HTTPS "}) \
        == {HTTPS_B}
    assert HTTP_A in draw(f, "/fwd/demo", tls=False, headers={"X-Forwarded-Proto": "https, http"})
    assert HTTP_A in draw(f, "/fwd/demo", tls=False)
    assert HTTP_A in draw(f, "/fwd-other/demo", tls=False, headers=https)
    assert HTTP_A in draw(f, "/tune/demo", tls=False, headers=https)


def test_fallback_proxies_over_the_front_ends_tls(front):
    """With the proxy fallback, an HTTPS tune-in no https:// slot has room for hears an
    http:// slot through the front-end, over its TLS: the backend's own stream arrives; a
    tune-in that has an https:// slot is still redirected to it."""
    radio = IcyServer(max_seconds=30)
    try:
        f = front(snapshot_text(slot("a", radio.url("/demo"), 100), slot("b", HTTPS_B, 0),
                                slot("c", HTTPS_C, 5, stream="other"),
                                slot("a", radio.url("/other"), 100, stream="other")))

        status, headers, body = f.get("/fallback/demo", tls=True, body_bytes=4096)
        assert status == 200, (status, headers)
        assert len(body) == 4096
        assert radio.requests and radio.requests[-1].line.split()[1] == "/demo"

        assert draw(f, "/fallback/other", n=10, tls=True) == {HTTPS_C}
        # plain HTTP is redirected as ever, to either scheme
        assert f.location("/fallback/demo", tls=False) == radio.url("/demo")
        # a tune-in the fallback gave a slot is not logged as one without
        assert "not answered with a slot" not in f.server.error_log_text()
    finally:
        radio.stop()


def test_apache_reserve_keeps_https_tuneins_on_https_slots(run_dir, processes, redis_server,
                                                           make_tune_apache):
    """Where TuneProxyReserve sends a listener to the slot itself instead of proxying it, an
    HTTPS listener goes to an https:// slot only, or is answered as a full stream: in proxy
    mode, and with the proxy fallback."""
    cert, key = make_certificate(run_dir)
    tls_port = free_port()
    redis_server.put_snapshot(snapshot_text(slot("a", HTTP_A, 100000), slot("b", HTTPS_B, 1),
                                            slot("a", HTTP_A, 100, stream="plain")), 1)
    tls = (f"Listen 127.0.0.1:{tls_port}\n<VirtualHost 127.0.0.1:{tls_port}>\n"
           f"    SSLEngine on\n    SSLCertificateFile {cert}\n"
           f"    SSLCertificateKeyFile {key}\n</VirtualHost>\n")
    server = make_tune_apache(redis_server.address,
                              modules=("proxy", "proxy_http", "socache_shmcb", "ssl"),
                              log_level="warn tune:info", locations=apache_locations() + tls)
    f = Front(server, tls_port, cert)
    f.wait_for_generation(1)

    assert draw(f, "/reserve/demo", n=20, tls=True) == {HTTPS_B}
    assert HTTP_A in draw(f, "/reserve/demo", n=20, tls=False)
    for path in ("/reserve/plain", "/fallback-reserve/plain"):
        status, headers, _ = f.get(path, tls=True)
        assert status == 503 and "location" not in headers, (path, status, headers)


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket, as a local TLS terminator talks to nginx."""

    def __init__(self, path):
        super().__init__("localhost", timeout=5)
        self.unix_path = str(path)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(self.unix_path)


def test_nginx_forwarded_proto_behind_realip(run_dir, processes, redis_server):
    """With the realip module putting the listener's address in the client's place, the
    proxy that sent X-Forwarded-Proto is still the connection's own peer: a listed TCP peer
    ($realip_remote_addr), and a unix socket's peer listed as unix: only, never the address
    realip took from a header."""
    sock = run_dir / "tls-terminator.sock"
    redis_server.put_snapshot(snapshot_text(slot("a", HTTP_A, 100000), slot("b", HTTPS_B, 1)), 1)
    n = Nginx(run_dir, redis_server.address, refresh="50ms", herd_window="0",
              server_conf=f"listen unix:{sock};\n",
              locations=("location /tcp/ { tune; tune_https_proxies 127.0.0.1;\n"
                         "    set_real_ip_from 127.0.0.1; real_ip_header X-Real-IP; }\n"
                         "location /unix/ { tune; tune_https_proxies unix:;\n"
                         "    set_real_ip_from unix:; real_ip_header X-Real-IP; }\n"
                         "location /not-unix/ { tune; tune_https_proxies 203.0.113.0/24;\n"
                         "    set_real_ip_from unix:; real_ip_header X-Real-IP; }\n"
                         "location = /tune-status { tune_status; }\n"))
    processes.append(n)
    n.start()
    wait_until(lambda: '"generation":1' in n.get("/tune-status").body.decode(), 5,
               "snapshot installed")
    headers = {"X-Real-IP": "203.0.113.9", "X-Forwarded-Proto": "https"}

    def locations(path, unix, count=20):
        seen = set()
        for _ in range(count):
            conn = (UnixHTTPConnection(sock) if unix
                    else http.client.HTTPConnection("127.0.0.1", n.port, timeout=5))
            try:
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                r.read()
                assert r.status == 302, (path, r.status)
                seen.add(r.getheader("Location"))
            finally:
                conn.close()
        return seen

    assert locations("/tcp/demo", unix=False) == {HTTPS_B}
    assert locations("/unix/demo", unix=True) == {HTTPS_B}
    # the client address realip took from the header is not the proxy
    assert HTTP_A in locations("/not-unix/demo", unix=True)
    assert HTTP_A in locations("/unix/demo", unix=False)


def test_media_slots_only_where_the_schemes_say(front):
    """The HTTP front-ends redirect to an rtmp:// slot only where tune_schemes / TuneSchemes
    names rtmp (a player that follows such a redirect); an HTTPS tune-in where only http://
    is named has no slot to go to."""
    f = front(snapshot_text(slot("a", HTTP_A, 100), slot("b", HTTPS_B, 100),
                            slot("d", RTMP_D, 100, stream="video")))
    assert f.location("/media/video", tls=False) == RTMP_D
    assert f.location("/media/video", tls=True) == RTMP_D
    for tls in (False, True):
        status, headers, _ = f.get("/tune/video", tls=tls)
        assert status == 503 and "location" not in headers, (tls, status, headers)
    assert f.location("/http-only/demo", tls=False) == HTTP_A
    status, headers, _ = f.get("/http-only/demo", tls=True)
    assert status == 503 and "location" not in headers, (status, headers)
