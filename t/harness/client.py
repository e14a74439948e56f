"""Tune-ins as players make them while a server is restarted under them:
one keep-alive connection per client, a request sent again only where a
real HTTP stack would send it again."""

import socket
import threading
import time
from dataclasses import dataclass, field


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

    def __init__(self, port: int):
        self.port = port
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
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers


@dataclass
class Load:
    """What tune_ins_during() saw."""
    requests: int = 0
    ok: int = 0
    retried: int = 0               # sent again on a new connection
    worst: float = 0.0             # slowest answer, seconds
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.requests} requests, {self.ok} ok, {self.requests - self.ok} failed, "
                f"{self.retried} sent again on a new connection, "
                f"worst latency {self.worst * 1000:.1f} ms")


def tune_ins_during(port: int, path: str, expected: tuple[int, str | None], action,
                    clients: int = 4, method: str = "GET") -> Load:
    """clients KeepAliveClients send path without pause from 0.5 s before
    action() (a reload, say) until 0.5 s after it returns, at most 50,000
    requests each; an answer other than expected, (status, Location), is a
    failure."""
    stop = threading.Event()
    lock = threading.Lock()
    load = Load()

    def client():
        c = KeepAliveClient(port)
        for _ in range(50000):
            if stop.is_set():
                break
            t0 = time.monotonic()
            try:
                status, headers = c.request(method, path)
                ok = (status, headers.get("location")) == expected
                what = f"{status} {headers.get('location')}"
            except OSError as e:
                c.close()
                ok, what = False, repr(e)
            dt = time.monotonic() - t0
            with lock:
                load.requests += 1
                load.ok += ok
                load.worst = max(load.worst, dt)
                if not ok:
                    load.failures.append(what)
        c.close()
        with lock:
            load.retried += c.retried

    threads = [threading.Thread(target=client, name=f"client {i}") for i in range(clients)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        action()
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    return load
