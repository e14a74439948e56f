"""Tune-ins as players make them while a server is restarted under them:
one keep-alive connection per client, a request sent again only where a
real HTTP stack would send it again.  TuneInLoad keeps such clients going
in the background and records every answer; Load counts them."""

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable


class ClosedBeforeAnswer(ConnectionError):
    """The server closed the connection before a byte of the answer."""


class KeepAliveClient:
    """A client on one HTTP/1.1 keep-alive connection, as a player's HTTP
    stack uses it.

    An nginx worker leaving at a reload, or an Apache child at a graceful
    restart, closes its idle keep-alive connections, and a request sent on one as it closes finds it closed
    before any byte of an answer: the request was never processed, and real
    clients (curl, browsers, urllib3) send it again on a new connection.
    This client does the same, once, and only in that case: on a
    connection that had carried a request before and with nothing of the
    answer received.  Anything else (a reset on a new connection, an answer
    cut short, a second failure) is raised as a failure.
    """

    def __init__(self, port: int, keep_alive: bool = True):
        self.port = port
        self.keep_alive = keep_alive    # False: a new connection for every request
        self.sock: socket.socket | None = None
        self.used = 0           # requests answered on this connection
        self.retried = 0

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def request(self, method: str, path: str) -> tuple[int, dict[str, str]]:
        """(status, headers with lower-case names)."""
        if self.sock is None:
            self._connect()
        try:
            return self._exchange(method, path)
        except ClosedBeforeAnswer:
            if self.used == 0:
                raise
            self.retried += 1
            self.close()
            self._connect()
            return self._exchange(method, path)

    def _connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.used = 0

    def _exchange(self, method: str, path: str) -> tuple[int, dict[str, str]]:
        data = b""
        try:
            self.sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
            while b"\r\n\r\n" not in data:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (BrokenPipeError, ConnectionResetError):
            if data:
                raise
            raise ClosedBeforeAnswer("reset before the answer") from None
        if not data:
            raise ClosedBeforeAnswer("closed before the answer")
        if b"\r\n\r\n" not in data:
            raise ConnectionError(f"answer cut short: {data!r}")
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = 0 if method == "HEAD" else int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("body cut short")
            body += chunk
        self.used += 1
        if not self.keep_alive or headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers


@dataclass
class Answer:
    """One tune-in as a client saw it, on the test's monotonic clock."""
    started: float                  # the request was sent
    ended: float                    # its answer (or the error) came
    status: int | None              # None: no answer
    headers: dict[str, str]         # lower-case names
    error: str = ""

    @property
    def location(self) -> str | None:
        return self.headers.get("location")

    @property
    def latency(self) -> float:
        return self.ended - self.started

    def __str__(self) -> str:
        return self.error or f"{self.status} {self.location}"


@dataclass
class Tally:
    """A load's answers in three kinds (every request is exactly one):
    ok, stale (answered as expected, but from a snapshot a test judges
    out of date) and failed."""
    requests: int
    ok: int
    stale: int
    failed: int
    worst: float                    # slowest answer, seconds

    def line(self, scenario: str, front: str, extra: str = "") -> str:
        """The one summary line of the chaos suite's format (t/README.md)."""
        text = (f"chaos {scenario} {front}: requests {self.requests}, ok {self.ok}, "
                f"stale {self.stale}, failed {self.failed}, worst {self.worst * 1000:.1f} ms")
        return text + (f"; {extra}" if extra else "")


@dataclass
class Load:
    """What tune_ins_during() or a TuneInLoad saw."""
    requests: int = 0
    ok: int = 0
    retried: int = 0               # sent again on a new connection
    worst: float = 0.0             # slowest answer, seconds
    failures: list[str] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)     # every one, in order of answer

    def summary(self) -> str:
        return (f"{self.requests} requests, {self.ok} ok, {self.requests - self.ok} failed, "
                f"{self.retried} sent again on a new connection, "
                f"worst latency {self.worst * 1000:.1f} ms")

    def tally(self, ok: Callable[[Answer], bool],
              stale: Callable[[Answer], bool] = lambda a: False) -> Tally:
        """Every answer is failed unless ok(answer), and stale when ok and stale(answer)."""
        good = [a for a in self.answers if ok(a)]
        n_stale = sum(1 for a in good if stale(a))
        return Tally(len(self.answers), len(good) - n_stale, n_stale,
                     len(self.answers) - len(good), self.worst)


class TuneInLoad:
    """clients KeepAliveClients sending method path to 127.0.0.1:port
    from start() until stop(), pause seconds between two requests of one
    client (0: without pause), at most limit requests each and for
    max_seconds at most whatever happens; every answer is recorded.  ok
    tells a right answer from a failure (Load.ok, Load.failures).
    keep_alive=False opens a connection per request (a proxied stream:
    its head is read, then the connection closed)."""

    def __init__(self, port: int, path: str, ok: Callable[[Answer], bool], *, clients: int = 4,
                 method: str = "GET", pause: float = 0.0, limit: int = 50000,
                 max_seconds: float = 120.0, keep_alive: bool = True):
        self.port, self.path, self.method = port, path, method
        self.ok, self.clients, self.pause = ok, clients, pause
        self.limit, self.max_seconds, self.keep_alive = limit, max_seconds, keep_alive
        self.load = Load()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> "TuneInLoad":
        self._threads = [threading.Thread(target=self._client, name=f"client {i}")
                         for i in range(self.clients)]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> Load:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)
        with self._lock:
            return self.load

    def __enter__(self) -> "TuneInLoad":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def answers_so_far(self) -> list[Answer]:
        with self._lock:
            return list(self.load.answers)

    def _client(self) -> None:
        c = KeepAliveClient(self.port, keep_alive=self.keep_alive)
        deadline = time.monotonic() + self.max_seconds
        for _ in range(self.limit):
            if self._stop.is_set() or time.monotonic() >= deadline:
                break
            t0 = time.monotonic()
            try:
                status, headers = c.request(self.method, self.path)
                answer = Answer(t0, time.monotonic(), status, headers)
            except OSError as e:
                c.close()
                answer = Answer(t0, time.monotonic(), None, {}, repr(e))
            ok = self.ok(answer)
            with self._lock:
                load = self.load
                load.requests += 1
                load.ok += ok
                load.worst = max(load.worst, answer.latency)
                load.answers.append(answer)
                if not ok:
                    load.failures.append(str(answer))
            if self.pause:
                self._stop.wait(self.pause)
        c.close()
        with self._lock:
            self.load.retried += c.retried


def tune_ins_during(port: int, path: str, expected: tuple[int, str | None], action,
                    clients: int = 4, method: str = "GET") -> Load:
    """clients KeepAliveClients send path without pause from 0.5 s before
    action() (a reload, say) until 0.5 s after it returns, at most 50,000
    requests each; an answer other than expected, (status, Location), is a
    failure."""
    load = TuneInLoad(port, path, lambda a: (a.status, a.location) == expected,
                      clients=clients, method=method).start()
    try:
        time.sleep(0.5)
        action()
        time.sleep(0.5)
    finally:
        result = load.stop()
    return result
