"""A loopback TCP relay that can turn into a black hole: a Redis (or any
peer) that goes silent mid-flight, on connections already open and on new
ones, without being stopped (a stopped peer refuses, a silent one hangs);
or that slows down, every reply held back for a while (a Redis on an
overloaded host, or far away)."""

import collections
import selectors
import socket
import threading
import time


class Relay:
    """Listens on 127.0.0.1 and a kernel-chosen port in a thread of the
    calling process and relays every connection to host:port.

    blackhole() stops relaying: bytes from either side are no longer read,
    new connections are accepted and held unanswered; nothing is closed.
    relay() resumes for new connections only (held ones stay silent).

    slow(delay) holds every chunk the target sends back for delay seconds
    before passing it on, in order, on connections already open and new
    ones (what the clients send goes on at once); slow(0) ends it (what is
    held still waits out its delay).
    """

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.blackholed = False
        self.delay = 0.0
        self.relayed_bytes = 0
        self.accepted = 0       # connections accepted, relayed or held
        self.held: list[socket.socket] = []       # sockets kept open, unread
        self._peer: dict[socket.socket, socket.socket] = {}
        self._upstream: set[socket.socket] = set()        # sockets to the target
        # replies held back by slow(), per client socket: (due, bytes)
        self._later: dict[socket.socket, collections.deque] = {}
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.sock, selectors.EVENT_READ)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="relay", daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def blackhole(self) -> None:
        with self._lock:
            self.blackholed = True

    def relay(self) -> None:
        with self._lock:
            self.blackholed = False

    def slow(self, delay: float) -> None:
        with self._lock:
            self.delay = delay

    def _send_due(self, now: float) -> float | None:
        """Passes on the held replies that are due; when the next one is."""
        nxt = None
        for conn, queue in list(self._later.items()):
            while queue and queue[0][0] <= now:
                _, data = queue.popleft()
                try:
                    conn.sendall(data)
                    self.relayed_bytes += len(data)
                except OSError:
                    self._drop(conn)
                    break
            if queue:
                nxt = queue[0][0] if nxt is None else min(nxt, queue[0][0])
        return nxt

    def _hold(self, *socks: socket.socket) -> None:
        for s in socks:
            try:
                self._sel.unregister(s)
            except (KeyError, ValueError):
                pass
            self.held.append(s)

    def _drop(self, s: socket.socket) -> None:
        other = self._peer.pop(s, None)
        for x in (s, other):
            if x is None:
                continue
            self._peer.pop(x, None)
            self._upstream.discard(x)
            self._later.pop(x, None)
            try:
                self._sel.unregister(x)
            except (KeyError, ValueError):
                pass
            x.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                blackholed, delay = self.blackholed, self.delay
            if blackholed and self._peer:
                self._hold(*self._peer)
                self._peer.clear()
                self._upstream.clear()
                self._later.clear()
            nxt = self._send_due(time.monotonic())
            timeout = 0.1 if nxt is None else min(0.1, max(0.0, nxt - time.monotonic()))
            for key, _ in self._sel.select(timeout=timeout):
                s = key.fileobj
                if s is self.sock:
                    try:
                        conn, _ = self.sock.accept()
                    except OSError:
                        continue
                    self.accepted += 1
                    if blackholed:
                        self.held.append(conn)
                        continue
                    try:
                        up = socket.create_connection(self.target, timeout=2)
                    except OSError:
                        conn.close()
                        continue
                    self._peer[conn], self._peer[up] = up, conn
                    self._upstream.add(up)
                    self._sel.register(conn, selectors.EVENT_READ)
                    self._sel.register(up, selectors.EVENT_READ)
                    continue
                if s not in self._peer:
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._drop(s)
                    continue
                to = self._peer[s]
                queue = self._later.get(to)
                if s in self._upstream and (delay > 0 or queue):
                    # never ahead of a reply still held
                    self._later.setdefault(to, collections.deque()).append(
                        (time.monotonic() + delay, data))
                    continue
                try:
                    to.sendall(data)
                    self.relayed_bytes += len(data)
                except OSError:
                    self._drop(s)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        for s in list(self._peer) + self.held:
            s.close()
        self._sel.close()
        self.sock.close()
