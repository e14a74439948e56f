"""A SHOUTcast v1 look-alike: answers `ICY 200 OK`, streams a recognizable
byte pattern at a bounded rate and interleaves ICY metadata when asked to;
and a reader for tests that takes an ICY or HTTP response apart.

In a test it runs in threads of the test process, like StatusServer:

    icy = IcyServer(metaint=8192, title="Test Title")
    ...
    icy.stop()

or as a daemon of its own (Process-managed, requests recorded to a file):

    IcyServerProcess(run_dir, metaint=8192).start()
    python3 t/harness/icy_server.py --port 8000 --metaint 8192

The audio byte at stream offset i (metadata left out) is PATTERN[i % 251],
so a reader can check that nothing was lost, added or reordered.
"""

import argparse
import json
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "harness"

from .listener import LoopbackListener  # noqa: E402
from .net import free_port, wait_for_port  # noqa: E402
from .process import Process  # noqa: E402
from .rundir import RunDir  # noqa: E402

#: 251 is prime, so the pattern never lines up with a metaint or a chunk size
PATTERN = bytes(range(251))

#: longest request head the server reads before giving up on a client
MAX_HEAD = 16384


def pattern_at(offset: int, length: int) -> bytes:
    """length bytes of the audio pattern starting at stream offset."""
    start = offset % len(PATTERN)
    reps = (start + length) // len(PATTERN) + 1
    return (PATTERN * reps)[start:start + length]


def metadata_block(title: str | None) -> bytes:
    """One ICY metadata block: a length byte (in 16-byte units) and
    StreamTitle='...'; padded with NULs; a lone zero byte when title is None
    (nothing new since the last block)."""
    if title is None:
        return b"\0"
    text = f"StreamTitle='{title}';".encode("utf-8")
    units = -(-len(text) // 16)
    if units > 255:
        raise ValueError("metadata longer than 4080 bytes")
    return bytes([units]) + text.ljust(units * 16, b"\0")


@dataclass
class IcyRequest:
    """One request as the server received it."""
    line: str
    headers: dict[str, str]      # lower-case names

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class IcyServer(LoopbackListener):
    """Listens on 127.0.0.1 (a kernel-chosen port unless given) in threads
    of the calling process.

    mode: "ok" streams; "refuse" closes each connection as soon as it is
    accepted, before reading; "error" answers `HTTP/1.0 <error_status>`.
    Each stream is sent in chunk-sized writes at rate bytes per second of
    audio, for at most max_seconds (a bound, should a test forget to stop).
    """

    def __init__(self, *, port: int = 0, name: str = "tuneslot test radio", genre: str = "Test",
                 bitrate: int = 128, metaint: int = 8192, title: str = "Test Title",
                 rate: int = 16384, chunk: int = 1024, max_seconds: float = 600.0,
                 mode: str = "ok", error_status: int = 503, record: Path | None = None):
        self.name, self.genre, self.bitrate = name, genre, bitrate
        self.metaint = metaint
        self.title = title
        self.rate, self.chunk, self.max_seconds = rate, chunk, max_seconds
        self.mode = mode
        self.error_status = error_status
        self.record = record
        self.requests: list[IcyRequest] = []
        self.sent_audio = 0          # audio bytes sent, all streams together
        self._title_serial = 0
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        super().__init__(port, backlog=128, name="icy server")
        self.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def set_title(self, title: str) -> None:
        """The next metadata block of every stream carries this title."""
        with self._lock:
            self.title = title
            self._title_serial += 1

    # ---- serving ----------------------------------------------------------

    def on_accept(self, conn: socket.socket) -> None:
        if self.mode == "refuse":
            conn.close()
            return
        with self._lock:
            self._conns.add(conn)
        threading.Thread(target=self._serve, args=(conn,), name="icy stream", daemon=True).start()

    def _read_head(self, conn: socket.socket) -> IcyRequest | None:
        conn.settimeout(5.0)
        data = b""
        while b"\r\n\r\n" not in data and b"\n\n" not in data:
            if len(data) > MAX_HEAD:
                return None
            chunk = conn.recv(4096)
            if not chunk:
                return None
            data += chunk
        head = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("latin-1")
        line, *rest = head.split("\n")
        headers = {}
        for h in rest:
            k, _, v = h.partition(":")
            headers[k.strip().lower()] = v.strip()
        return IcyRequest(line, headers)

    def _log(self, req: IcyRequest) -> None:
        with self._lock:
            self.requests.append(req)
            if self.record is not None:
                with open(self.record, "a") as f:
                    f.write(json.dumps({"line": req.line, "headers": req.headers}) + "\n")

    def _serve(self, conn: socket.socket) -> None:
        try:
            req = self._read_head(conn)
            if req is None:
                return
            self._log(req)
            if self.mode == "error":
                body = b"stream unavailable\n"
                conn.sendall(b"HTTP/1.0 %d Error\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (self.error_status, len(body), body))
                return
            self._stream(conn, req.header("icy-metadata") == "1")
        except OSError:
            pass        # the client went away
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def _stream(self, conn: socket.socket, meta: bool) -> None:
        head = (f"ICY 200 OK\r\nicy-name:{self.name}\r\nicy-genre:{self.genre}\r\n"
                f"icy-br:{self.bitrate}\r\ncontent-type: audio/mpeg\r\n")
        if meta:
            head += f"icy-metaint: {self.metaint}\r\n"
        conn.sendall((head + "\r\n").encode("latin-1"))
        offset = 0                  # audio bytes sent on this stream
        serial = -1                 # title serial last sent on this stream
        start = time.monotonic()
        while not self._stop.is_set() and time.monotonic() - start < self.max_seconds:
            n = self.chunk
            if meta:
                n = min(n, self.metaint - offset % self.metaint)
            out = pattern_at(offset, n)
            offset += n
            if meta and offset % self.metaint == 0:
                with self._lock:
                    title, now = self.title, self._title_serial
                out += metadata_block(title if now != serial else None)
                serial = now
            conn.sendall(out)
            with self._lock:
                self.sent_audio += n
            ahead = offset / self.rate - (time.monotonic() - start)
            if ahead > 0 and self._stop.wait(ahead):
                return

    def stop(self) -> None:
        self.stop_listening()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class IcyServerProcess(Process):
    """The same server as a daemon of its own (this file run by python3),
    on a free port; requests are recorded as JSON lines in the run
    directory and read back by requests()."""

    def __init__(self, run_dir: RunDir, name: str = "icy", **options):
        super().__init__(run_dir, name)
        self.port = free_port()
        self.record = run_dir / f"{self.name}-requests.jsonl"
        self.options = options

    def start(self, timeout: float = 10.0) -> "IcyServerProcess":
        argv = [sys.executable, str(Path(__file__).resolve()), "--port", str(self.port),
                "--record", str(self.record)]
        for k, v in self.options.items():
            argv += [f"--{k.replace('_', '-')}", str(v)]
        super().start(argv)
        wait_for_port("127.0.0.1", self.port, timeout, alive=self.running)
        return self

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def requests(self) -> list[IcyRequest]:
        try:
            lines = self.record.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [IcyRequest(d["line"], d["headers"]) for d in map(json.loads, lines)]


# ---- reading a response ----------------------------------------------------

class IcyDemuxer:
    """Splits a body into audio and ICY metadata, fed in pieces of any size."""

    def __init__(self, metaint: int | None):
        self.metaint = metaint
        self.audio = bytearray()
        self.titles: list[str] = []       # StreamTitle of each non-empty block
        self.blocks: list[bytes] = []     # every non-empty block, NULs stripped
        self.empty_blocks = 0
        self._left = metaint              # audio bytes until the next length byte
        self._meta: bytearray | None = None
        self._meta_len = 0

    def feed(self, data: bytes) -> None:
        if not self.metaint:
            self.audio += data
            return
        i = 0
        while i < len(data):
            if self._meta is not None:
                take = min(self._meta_len - len(self._meta), len(data) - i)
                self._meta += data[i:i + take]
                i += take
                if len(self._meta) == self._meta_len:
                    self._block(bytes(self._meta))
                    self._meta, self._left = None, self.metaint
            elif self._left == 0:
                self._meta_len = data[i] * 16
                i += 1
                if self._meta_len == 0:
                    self.empty_blocks += 1
                    self._left = self.metaint
                else:
                    self._meta = bytearray()
            else:
                take = min(self._left, len(data) - i)
                self.audio += data[i:i + take]
                self._left -= take
                i += take

    def _block(self, raw: bytes) -> None:
        text = raw.rstrip(b"\0").decode("utf-8", errors="replace")
        self.blocks.append(text)
        prefix = "StreamTitle='"
        if text.startswith(prefix):
            end = text.find("';", len(prefix))
            self.titles.append(text[len(prefix):end if end >= 0 else len(text)])


class _Dechunker:
    """Transfer-Encoding: chunked, undone incrementally (a proxy in front of
    an HTTP/1.0 stream may add it)."""

    def __init__(self):
        self.buf = b""
        self.left = 0           # bytes of the current chunk still to come
        self.crlf = False       # a chunk's trailing CRLF still to skip
        self.done = False

    def feed(self, data: bytes) -> bytes:
        self.buf += data
        out = bytearray()
        while self.buf and not self.done:
            if self.left:
                take = min(self.left, len(self.buf))
                out += self.buf[:take]
                self.buf, self.left = self.buf[take:], self.left - take
                self.crlf = self.left == 0
                continue
            if self.crlf:
                if len(self.buf) < 2:
                    break
                self.buf, self.crlf = self.buf[2:], False
                continue
            line, sep, rest = self.buf.partition(b"\r\n")
            if not sep:
                break
            self.left = int(line.split(b";")[0], 16)
            self.buf = rest
            self.done = self.left == 0
        return bytes(out)


@dataclass
class IcyResponse:
    """A response as read by read_response()."""
    protocol: str                 # "ICY", "HTTP/1.0", "HTTP/1.1"
    status: int
    status_line: str
    headers: dict[str, str]       # lower-case names, last value wins
    raw_head: bytes
    body: bytes                   # as sent after the head (chunked undone)
    demux: IcyDemuxer = field(repr=False, default=None)

    @property
    def metaint(self) -> int | None:
        v = self.headers.get("icy-metaint")
        return int(v) if v else None

    @property
    def audio(self) -> bytes:
        return bytes(self.demux.audio)

    @property
    def titles(self) -> list[str]:
        return self.demux.titles


def parse_head(head: bytes) -> tuple[str, int, str, dict[str, str]]:
    """(protocol, status, status line, headers) of an ICY or HTTP head."""
    lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
    status_line = lines[0]
    protocol, _, rest = status_line.partition(" ")
    if protocol != "ICY" and not protocol.startswith("HTTP/"):
        raise ValueError(f"not an ICY or HTTP status line: {status_line!r}")
    status = int(rest.split()[0])
    headers = {}
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    return protocol, status, status_line, headers


def read_response(sock: socket.socket, body_bytes: int = 65536, timeout: float = 10.0,
                  metaint: int | None = None) -> IcyResponse:
    """Reads a head and then at least body_bytes of body (less if the server
    closes first) within timeout, and demultiplexes it with the response's
    icy-metaint (or metaint, when given).  Raises TimeoutError."""
    deadline = time.monotonic() + timeout
    data = b""

    def more() -> bytes:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"response incomplete after {timeout}s: {data[:200]!r}")
        sock.settimeout(left)
        try:
            return sock.recv(65536)
        except socket.timeout:
            raise TimeoutError(f"response incomplete after {timeout}s: {data[:200]!r}") from None

    while True:
        for sep in (b"\r\n\r\n", b"\n\n"):
            if sep in data:
                head, rest = data.split(sep, 1)
                break
        else:
            chunk = more()
            if not chunk:
                raise ConnectionError(f"closed before the end of the head: {data!r}")
            data += chunk
            if len(data) > MAX_HEAD:
                raise ValueError("response head too long")
            continue
        break
    protocol, status, status_line, headers = parse_head(head)
    dechunk = _Dechunker() if headers.get("transfer-encoding", "").lower() == "chunked" else None
    mi = metaint if metaint is not None else (int(headers["icy-metaint"])
                                              if headers.get("icy-metaint") else None)
    demux = IcyDemuxer(mi)
    body = bytearray()

    def take(raw: bytes) -> None:
        piece = dechunk.feed(raw) if dechunk else raw
        body.extend(piece)
        demux.feed(piece)

    take(rest)
    while len(body) < body_bytes and not (dechunk and dechunk.done):
        chunk = more()
        if not chunk:
            break
        take(chunk)
    return IcyResponse(protocol, status, status_line, headers, head, bytes(body), demux)


def get(host: str, port: int, path: str, headers: dict[str, str] | None = None,
        body_bytes: int = 65536, timeout: float = 10.0, http: str = "HTTP/1.0") -> IcyResponse:
    """One request on a new connection; the response as read_response()
    reads it."""
    h = {"Host": f"{host}:{port}", "User-Agent": "tuneslot-test-icy"}
    h.update(headers or {})
    req = f"GET {path} {http}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(req.encode("latin-1"))
        return read_response(s, body_bytes, timeout)


def main() -> int:
    ap = argparse.ArgumentParser(description="A SHOUTcast v1 look-alike test server.")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--metaint", type=int, default=8192)
    ap.add_argument("--title", default="Test Title")
    ap.add_argument("--rate", type=int, default=16384, help="audio bytes per second per stream")
    ap.add_argument("--mode", choices=("ok", "refuse", "error"), default="ok")
    ap.add_argument("--error-status", type=int, default=503)
    ap.add_argument("--max-seconds", type=float, default=600.0)
    ap.add_argument("--record", type=Path)
    args = ap.parse_args()
    server = IcyServer(port=args.port, metaint=args.metaint, title=args.title, rate=args.rate,
                       mode=args.mode, error_status=args.error_status,
                       max_seconds=args.max_seconds, record=args.record)
    print(f"icy server on 127.0.0.1:{server.port} mode {args.mode}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait(args.max_seconds + 60)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
