"""ngx_stream_tune_module: each new TCP connection is given a slot of its stream and proxied
there by nginx's own stream proxy.  Real nginx (Debian's stream module, both tune modules),
real Redis holding snapshots of the test's own making, and TCP backends of the test's that
greet each connection with their name and record what it sent them."""

import socket
import subprocess
import threading
import time

import pytest

from harness import free_port, slot, snapshot_text
from harness.listener import LoopbackListener
from harness.nginx import Nginx


class GreetingBackend(LoopbackListener):
    """Greets every connection with "<name>\\n", records what it sends for a moment, and
    holds it open until the test ends (a listener stays); counts the connections."""

    def __init__(self, name):
        super().__init__(backlog=1024, name=f"backend {name}")
        self.name = name
        self.accepted = 0
        self.received: list[bytes] = []
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.start()

    def on_accept(self, conn):
        with self._lock:
            self.accepted += 1
            self._conns.append(conn)
        conn.sendall(self.name.encode() + b"\n")
        threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn):
        try:
            conn.settimeout(2)
            data = conn.recv(4096)
        except OSError:       # closed by stop() meanwhile
            return
        with self._lock:
            self.received.append(data)

    def url(self, scheme="rtmp", path="/live/demo"):
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.stop_listening()
        with self._lock:
            for c in self._conns:
                c.close()


@pytest.fixture
def backends():
    made = []

    def make(*names):
        bs = [GreetingBackend(n) for n in names]
        made.extend(bs)
        return bs
    yield make
    for b in made:
        b.stop()


@pytest.fixture
def front(run_dir, processes, redis_server):
    """front(text, servers, herd_window="0") -> (nginx, {name: port}): servers maps a name to
    the lines of a stream server block (its listen line is added); text is installed as
    generation 1 before nginx starts."""
    def make(text, servers, herd_window="0", http_conf="", stream_first=False):
        redis_server.put_snapshot(text, 1)
        ports = {name: free_port() for name in servers}
        stream_conf = "log_format tune '$tune_outcome $tune_backend $tune_upstream $status';\n"
        for name, lines in servers.items():
            stream_conf += (f"server {{\n    listen 127.0.0.1:{ports[name]};\n"
                            f"    access_log {run_dir}/stream-{name}.log tune;\n"
                            f"    {lines}\n}}\n")
        n = Nginx(run_dir, redis_server.address, refresh="50ms", herd_window=herd_window,
                  http_conf=http_conf,
                  locations="location = /tune-status { tune_status; }\n"
                            "location / { return 404; }\n",
                  stream_conf=stream_conf, stream_first=stream_first)
        processes.append(n)
        n.start()
        deadline = time.monotonic() + 5
        while '"generation":1' not in n.get("/tune-status").body.decode():
            assert time.monotonic() < deadline, "snapshot not installed"
            time.sleep(0.05)
        return n, ports
    return make


def connect(port, send=b"", timeout=5.0):
    """The first line the far end sends ("" when the connection is closed first)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        if send:
            s.sendall(send)
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1024)
            if not chunk:
                break
            data += chunk
        return data.decode().strip()


PROXY = "tune_stream demo;\n    proxy_pass $tune_upstream;\n    proxy_connect_timeout 2s;"


def log_lines(run_dir, name, count, timeout=5.0):
    path = run_dir / f"stream-{name}.log"
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        assert time.monotonic() < deadline, (name, lines)
        time.sleep(0.05)


@pytest.mark.parametrize("stream_first", [False, True], ids=["http-first", "stream-first"])
def test_connections_go_to_media_slots_by_free_room(front, backends, run_dir, stream_first):
    """Each connection reaches a slot of the stream by nginx's proxy: the roomier one takes
    most, an http:// slot (the HTTP module's) none, and the access log names them; the
    stream block may come before the http block whose zone it reads."""
    a, b, web = backends("a", "b", "web")
    n, ports = front(snapshot_text(slot("a", a.url(), 900), slot("b", b.url(), 100),
                                   slot("web", web.url("http"), 100000)),
                     {"rtmp": PROXY}, stream_first=stream_first)
    seen = [connect(ports["rtmp"]) for _ in range(60)]
    assert set(seen) <= {"a", "b"} and seen.count("a") > seen.count("b"), seen
    assert web.accepted == 0
    lines = log_lines(run_dir, "rtmp", 60)
    assert lines[0].split()[0] == "proxy" and lines[0].split()[1] in ("a", "b"), lines[0]
    assert lines[0].split()[2] in (a.address, b.address), lines[0]


def test_no_slot_closes_the_connection_at_once(front, backends, run_dir):
    """Every slot full, the stream unknown, or only slots of another scheme: the connection
    is closed without a byte, status 503 in the access log, and the reason in the error log."""
    a, = backends("a")
    n, ports = front(snapshot_text(slot("a", a.url(), 0),
                                   slot("a", a.url("rtsp", "/cam"), 5, stream="cam")),
                     {"full": PROXY,
                      "unknown": "tune_stream gone;\n    proxy_pass $tune_upstream;",
                      "scheme": "tune_stream cam;\n    tune_stream_scheme rtmp;\n"
                                "    proxy_pass $tune_upstream;"})
    for name in ("full", "unknown", "scheme"):
        assert connect(ports[name]) == "", name
    assert a.accepted == 0
    assert log_lines(run_dir, "full", 1)[0].split() == ["full", "-", "-", "503"]
    assert log_lines(run_dir, "unknown", 1)[0].split() == ["unknown", "-", "-", "503"]
    assert log_lines(run_dir, "scheme", 1)[0].split() == ["full", "-", "-", "503"]
    text = n.error_log_text()
    assert 'tune: "demo" not given a slot: every slot is full' in text, text
    assert 'tune: "gone" not given a slot: no such stream' in text, text
    assert "tune: \"cam\" not given a slot: no slot of the listener's scheme has room" in text


def test_region_from_a_variable(front, backends):
    """tune_region takes a stream-context value: its region's slot first, the others when it
    has none up."""
    eu, us = backends("eu", "us")
    n, ports = front(snapshot_text(slot("eu", eu.url(), 10, region="eu"),
                                   slot("us", us.url(), 100000, region="us")),
                     {"eu": PROXY + "\n    tune_region eu;",
                      "none": PROXY + "\n    tune_region mars;"})
    assert {connect(ports["eu"]) for _ in range(10)} == {"eu"}
    assert "us" in {connect(ports["none"]) for _ in range(10)}


def test_rtsp_request_line_names_the_stream(front, backends):
    """With tune_rtsp_preread, one port serves many RTSP streams: the first path segment of
    the first request's URL names it, and the request reaches the backend unchanged."""
    demo, news = backends("demo", "news")
    n, ports = front(snapshot_text(slot("demo", demo.url("rtsp", "/demo"), 10),
                                   slot("news", news.url("rtsp", "/news"), 10, stream="news")),
                     {"rtsp": "tune_rtsp_preread on;\n    tune_stream $tune_rtsp_stream;\n"
                              "    proxy_pass $tune_upstream;"})
    request = b"OPTIONS rtsp://127.0.0.1/news/trackID=1 RTSP/1.0\r\nCSeq: 1\r\n\r\n"
    assert connect(ports["rtsp"], request) == "news"
    deadline = time.monotonic() + 5
    while not news.received:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert news.received[0] == request
    assert connect(ports["rtsp"], b"DESCRIBE rtsp://h:8554/demo RTSP/1.0\r\n\r\n") == "demo"
    # no RTSP request line, or a name the rules refuse: closed
    assert connect(ports["rtsp"], b"\x03" + b"\x00" * 1536) == ""
    assert connect(ports["rtsp"], b"OPTIONS rtsp://h/..x RTSP/1.0\r\n\r\n") == ""
    assert demo.accepted == 1 and news.accepted == 1


def test_burst_respects_the_herd_bound(front, backends):
    """500 connections at once with herd control on: no slot takes more than its free count,
    and the stream fills exactly."""
    a, b, c = backends("a", "b", "c")
    n, ports = front(snapshot_text(slot("a", a.url(), 100), slot("b", b.url(), 50),
                                   slot("c", c.url(), 10)),
                     {"rtmp": PROXY}, herd_window="2s")
    results = []
    lock = threading.Lock()

    def one():
        try:
            got = connect(ports["rtmp"], timeout=10)
        except OSError as e:
            got = f"error {e}"
        with lock:
            results.append(got)

    threads = [threading.Thread(target=one) for _ in range(500)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 500
    assert (a.accepted, b.accepted, c.accepted) == (100, 50, 10), (a.accepted, b.accepted,
                                                                   c.accepted)
    assert results.count("") == 340, sorted(set(results))


BAD = [
    ("tune_stream ..bad;", r'invalid stream name "..bad" in "tune_stream"'),
    ("tune_stream a; tune_stream b;", r'"tune_stream" directive is duplicate'),
    ("tune_stream demo; tune_stream_scheme gopher;",
     r'invalid value "gopher" of "tune_stream_scheme"'),
    ("tune_stream demo; tune_stale 10ms;", r'"tune_stale" directive must be at least 1s'),
]


@pytest.mark.parametrize("line,message", BAD, ids=[b[0] for b in BAD])
def test_nginx_t_rejects_bad_stream_directives(run_dir, line, message):
    import re
    n = Nginx(run_dir, "127.0.0.1:6379",
              stream_conf=f"server {{\n    listen 127.0.0.1:{free_port()};\n    {line}\n"
                          "    proxy_pass $tune_upstream;\n}\n")
    text = n.config_text()
    lineno = next(i for i, l in enumerate(text.splitlines(), 1) if l.strip() == line)
    p = n.test_config(text)
    assert p.returncode != 0
    assert re.search(message + r".* in " + re.escape(str(n.conf_path)) + f":{lineno}",
                     p.stderr), p.stderr


def test_nginx_t_without_proxy_pass(run_dir):
    """tune_stream chooses and proxy_pass connects: a server without one fails nginx -t
    (nginx's own check, naming the server)."""
    n = Nginx(run_dir, "127.0.0.1:6379",
              stream_conf=f"server {{\n    listen 127.0.0.1:{free_port()};\n    tune_stream demo;\n}}\n")
    p = n.test_config()
    assert p.returncode != 0
    assert "no handler for server in " + str(n.conf_path) in p.stderr, p.stderr


@pytest.mark.parametrize("stream_first", [False, True], ids=["http-first", "stream-first"])
def test_nginx_t_without_tune_redis(run_dir, stream_first):
    """tune_stream reads the snapshot the http block's tune_redis keeps: without one, nginx -t
    fails and says so, whichever block comes first (and where tune_stream is, when the http
    block came first)."""
    n = Nginx(run_dir, None, locations="location / { return 404; }\n",
              stream_conf=f"server {{\n    listen 127.0.0.1:{free_port()};\n    {PROXY}\n}}\n")
    n.stream_first = stream_first
    text = n.config_text()
    p = n.test_config(text)
    assert p.returncode != 0
    if stream_first:
        assert ('"tune_stream" (ngx_stream_tune_module) in a stream block before this http '
                'block requires "tune_redis" in the http block') in p.stderr, p.stderr
    else:
        lineno = next(i for i, l in enumerate(text.splitlines(), 1)
                      if l.strip() == "tune_stream demo;")
        assert (f'"tune_stream" in {n.conf_path}:{lineno} requires "tune_redis" in the http '
                'block') in p.stderr, p.stderr


def test_a_server_gives_slots_of_its_own_protocol(front, backends):
    """A stream with RTMP and RTSP servers alike: an RTMP front (no tune_stream_scheme) gives
    only the rtmp:// slot, an RTSP front (tune_rtsp_preread) only the rtsp:// one, never a TLS
    scheme's, whatever room the others have."""
    r, t, rs = backends("rtmp", "rtsp", "rtmps")
    n, ports = front(snapshot_text(slot("rtmp", r.url(), 10), slot("rtsp", t.url("rtsp", "/demo"), 1000),
                                   slot("rtmps", rs.url("rtmps"), 100000)),
                     {"rtmp": PROXY,
                      "rtsp": "tune_rtsp_preread on;\n    tune_stream $tune_rtsp_stream;\n"
                              "    proxy_pass $tune_upstream;"})
    assert {connect(ports["rtmp"]) for _ in range(10)} == {"rtmp"}
    request = b"OPTIONS rtsp://front/demo RTSP/1.0\r\nCSeq: 1\r\n\r\n"
    assert {connect(ports["rtsp"], request) for _ in range(10)} == {"rtsp"}
    assert rs.accepted == 0


def test_a_slot_without_an_address_is_passed_over(front, backends):
    """A slot whose URL gives no address to connect to (port 99999) is passed over for the
    next, and says so in the log, however much room it reports."""
    good, = backends("good")
    n, ports = front(snapshot_text(slot("bad", "rtmp://127.0.0.1:99999/live/demo", 100000),
                                   slot("good", good.url(), 10)),
                     {"rtmp": PROXY})
    assert {connect(ports["rtmp"]) for _ in range(10)} == {"good"}
    assert ('the slot on "bad" has no address to connect to' in n.error_log_text())


def test_rtsp_lines_as_servers_read_them(front, backends):
    """A bare CR ends the request line, an empty line before it is skipped, and ';'
    parameters of the stream's segment are not part of its name."""
    demo, = backends("demo")
    n, ports = front(snapshot_text(slot("demo", demo.url("rtsp", "/demo"), 10)),
                     {"rtsp": "tune_rtsp_preread on;\n    tune_stream $tune_rtsp_stream;\n"
                              "    proxy_pass $tune_upstream;"})
    for line in (b"OPTIONS rtsp://h/demo RTSP/1.0\r", b"\r\nDESCRIBE rtsp://h/demo RTSP/1.0\r\n",
                 b"SETUP rtsp://h/demo;p=1/trackID=0 RTSP/1.0\n"):
        assert connect(ports["rtsp"], line) == "demo", line


def test_after_ssl_preread(front, backends):
    """tune_stream may use what nginx's ssl_preread read: the server name of a TLS
    ClientHello names the stream (the tune handler runs after the other preread handlers)."""
    import ssl
    demo, = backends("demo")
    n, ports = front(snapshot_text(slot("demo", demo.url("rtmps"), 10)),
                     {"tls": "ssl_preread on;\n    tune_stream $ssl_preread_server_name;\n"
                             "    tune_stream_scheme rtmps;\n    proxy_pass $tune_upstream;"})
    hello = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(hello[0], hello[1], server_hostname="demo")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    assert connect(ports["tls"], hello[1].read()) == "demo"


def test_modules_export_only_what_nginx_looks_up():
    """nginx loads modules RTLD_GLOBAL: neither module exports the core's functions, so
    neither calls the other's copy (of another version after an upgrade)."""
    from harness.nginx import module_path, stream_module_path
    for so in (module_path(), stream_module_path()):
        out = subprocess.run(["nm", "-D", "--defined-only", str(so)], capture_output=True,
                             text=True, check=True, timeout=30).stdout
        names = sorted(line.split()[-1] for line in out.splitlines() if line.strip())
        assert names == ["ngx_module_names", "ngx_module_order", "ngx_modules"], (so, names)
