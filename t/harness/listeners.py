"""Many stream listeners from one process: an asyncio swarm.

N sockets in one Python process cost far less than N players (BASELINES.md),
so the server's memory and CPU, not the client's, are what a benchmark sees.
Each listener sends a GET, reads the head (ICY or HTTP) and then reads the
body no faster than rate bytes per second (twice a 128 kbit/s stream by
default), so a listener neither stalls the server nor races ahead of it.

    swarm = Swarm("http://127.0.0.1:8080/listen/demo", 1000).start()
    swarm.wait_connected(timeout=120)
    before = swarm.marks(); time.sleep(5); print(swarm.grown_since(before))
    swarm.close()

The swarm runs its own event loop in a thread of the caller; everything it
does is bounded by max_seconds.  Run as a script it prints its figures as
JSON: python3 t/harness/listeners.py URL --count 100 --duration 10
"""

import argparse
import asyncio
import json
import random
import resource
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass


@dataclass
class Conn:
    """One listener's state (written by the swarm's thread only)."""
    status: int | None = None       # from the head: 200 for ICY 200 OK too
    status_line: str = ""
    received: int = 0               # body bytes
    error: str = ""
    closed_by_server: bool = False


def raise_nofile(wanted: int) -> int:
    """Raises RLIMIT_NOFILE's soft limit to at least wanted (at most the hard
    limit); returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


class Swarm:
    """count listeners of url, all in one event loop in one thread.

    connect_concurrency bounds the connections still waiting for their head
    (a forking server that accepts slowly must not see its backlog flooded);
    head_timeout is how long one listener waits for its head.
    """

    def __init__(self, url: str, count: int, *, rate: int = 32768, chunk: int = 16384,
                 connect_concurrency: int = 128, head_timeout: float = 120.0,
                 max_seconds: float = 900.0, http: str = "HTTP/1.1",
                 headers: dict[str, str] | None = None):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http" or not u.hostname:
            raise ValueError(f"only http:// URLs: {url!r}")
        self.host, self.port = u.hostname, u.port or 80
        self.target = (u.path or "/") + (f"?{u.query}" if u.query else "")
        self.count, self.rate, self.chunk = count, rate, chunk
        self.connect_concurrency = connect_concurrency
        self.head_timeout, self.max_seconds = head_timeout, max_seconds
        h = {"Host": f"{self.host}:{self.port}", "User-Agent": "tuneslot-bench-listener",
             "Accept": "*/*"}
        h.update(headers or {})
        self.request = (f"GET {self.target} {http}\r\n"
                        + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n").encode("latin-1")
        self.conns = [Conn() for _ in range(count)]
        self.started_at: float | None = None
        self.connected_at: float | None = None   # when the last head arrived
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # ---- control (caller's thread) -----------------------------------------

    def start(self) -> "Swarm":
        raise_nofile(self.count + 256)
        self._thread = threading.Thread(target=self._run, name="listener swarm", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def close(self, timeout: float = 30.0) -> None:
        """Closes every connection and stops the thread."""
        if self._loop is not None and self._main is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._main.cancel)
            except RuntimeError:
                pass        # the loop has just finished on its own
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # ---- figures (any thread) ----------------------------------------------

    def connected(self) -> int:
        """Listeners whose head said 200."""
        return sum(1 for c in self.conns if c.status == 200)

    def failed(self) -> int:
        return sum(1 for c in self.conns if c.error or (c.status is not None and c.status != 200))

    def receiving(self) -> int:
        """Listeners that have received body bytes at all."""
        return sum(1 for c in self.conns if c.received > 0)

    def marks(self) -> list[int]:
        """Each listener's byte count now, for grown_since()."""
        return [c.received for c in self.conns]

    def grown_since(self, marks: list[int]) -> int:
        """Listeners that received bytes since marks were taken."""
        return sum(1 for c, m in zip(self.conns, marks) if c.received > m)

    def wait_connected(self, timeout: float, count: int | None = None) -> bool:
        """Waits until count (default all) listeners have a 200 head, or
        every listener has a head or an error; True when count got one."""
        want = self.count if count is None else count
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.connected() >= want:
                return True
            if all(c.status is not None or c.error for c in self.conns):
                break
            time.sleep(0.1)
        return self.connected() >= want

    def wait_receiving(self, timeout: float, within: float = 2.0) -> int:
        """Waits until every connected listener received bytes in one
        interval of within seconds (or timeout); how many did."""
        deadline = time.monotonic() + timeout
        best = 0
        while True:
            marks = self.marks()
            time.sleep(within)
            grown = self.grown_since(marks)
            best = max(best, grown)
            if grown >= self.connected() or time.monotonic() + within > deadline:
                return best

    def summary(self) -> dict:
        errors: dict[str, int] = {}
        for c in self.conns:
            key = c.error or (c.status_line if c.status not in (None, 200) else "")
            if key:
                errors[key] = errors.get(key, 0) + 1
        return {
            "listeners": self.count,
            "connected": self.connected(),
            "receiving": self.receiving(),
            "failed": self.failed(),
            "closed_by_server": sum(1 for c in self.conns if c.closed_by_server),
            "bytes": sum(c.received for c in self.conns),
            "connect_seconds": (round(self.connected_at - self.started_at, 2)
                                if self.connected_at and self.started_at else None),
            "errors": errors,
        }

    # ---- the loop (swarm's thread) -----------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._main = loop.create_task(self._all())
            self._ready.set()
            loop.run_until_complete(self._main)
        except asyncio.CancelledError:
            pass
        finally:
            self._ready.set()
            loop.close()

    async def _all(self) -> None:
        self.started_at = time.monotonic()
        gate = asyncio.Semaphore(self.connect_concurrency)
        tasks = [asyncio.create_task(self._one(c, gate)) for c in self.conns]
        try:
            await asyncio.wait(tasks, timeout=self.max_seconds)
        except asyncio.CancelledError:
            pass
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(self, c: Conn, gate: asyncio.Semaphore) -> None:
        writer = None
        try:
            async with gate:
                try:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(self.host, self.port, limit=self.chunk * 4),
                        self.head_timeout)
                    writer.write(self.request)
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.head_timeout)
                except asyncio.TimeoutError:
                    c.error = "no head in time"
                    return
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
                    c.error = type(e).__name__
                    return
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            c.status_line = line
            try:
                c.status = int(line.split()[1])
            except (IndexError, ValueError):
                c.error = "bad status line"
                return
            if c.status != 200:
                return
            self.connected_at = time.monotonic()
            start = time.monotonic()
            while True:
                data = await reader.read(self.chunk)
                if not data:
                    c.closed_by_server = True
                    return
                c.received += len(data)
                ahead = c.received / self.rate - (time.monotonic() - start)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        except OSError as e:
            c.error = type(e).__name__
        finally:
            if writer is not None:
                writer.close()


class ChurnSwarm(Swarm):
    """count listener slots of url, each a listener after another, as an
    audience comes and goes: a slot connects, reads the stream (at most rate
    bytes per second) for a time drawn uniformly from listen = (low, high)
    seconds, leaves, and connects again at once, so about count listeners
    are connected at any time.  Slots start spread over ramp seconds.  New
    sessions start until duration seconds after the start; the sessions then
    under way finish their own time (drain), so the number connected holds
    until the end of duration.

    A session ends well when its head said 200, audio bytes came, and it
    ended because its time was up.  Anything else is counted as an error, by
    kind: no connection, no head within head_timeout, a status other than
    200, the server closing the stream, no byte for stall seconds, or no
    byte at all.  Bounded: a slot makes at most duration / low + 2 sessions
    and everything ends max_seconds after the start.
    """

    def __init__(self, url: str, count: int, *, duration: float, listen=(10.0, 60.0),
                 ramp: float = 10.0, stall: float = 10.0, seed: int | None = None, **kw):
        low, high = listen
        if not 0 < low <= high:
            raise ValueError(f"listen=(low, high) with 0 < low <= high, not {listen!r}")
        kw.setdefault("max_seconds", ramp + duration + high + 2 * kw.get("head_timeout", 120.0) + 30)
        super().__init__(url, count, **kw)
        self.conns = []                 # no per-listener state: counters below
        self.duration, self.listen, self.ramp, self.stall = duration, (low, high), ramp, stall
        self.random = random.Random(seed)
        self.active = 0                 # sessions with a 200 head, not ended yet
        self.sessions = 0               # sessions that ended well
        self.bytes = 0                  # body bytes of all sessions
        self.errors: dict[str, int] = {}
        self.error_examples: list[str] = []
        self.ends_at: float | None = None

    # ---- figures (any thread) ----------------------------------------------

    def error_count(self) -> int:
        return sum(self.errors.values())

    def draining(self) -> bool:
        """New sessions no longer start."""
        return self.ends_at is not None and time.monotonic() >= self.ends_at

    def wait_drained(self, timeout: float) -> bool:
        """Waits until the swarm's thread is done (every session ended)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    def summary(self) -> dict:
        return {"slots": self.count, "sessions": self.sessions, "active": self.active,
                "bytes": self.bytes, "errors": dict(self.errors),
                "error_examples": list(self.error_examples)}

    # ---- the loop (swarm's thread) -----------------------------------------

    def _error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.error_examples) < 10:
            self.error_examples.append(f"{kind}: {detail}" if detail else kind)

    async def _all(self) -> None:
        self.started_at = time.monotonic()
        self.ends_at = self.started_at + self.ramp + self.duration
        gate = asyncio.Semaphore(self.connect_concurrency)
        tasks = [asyncio.create_task(self._slot(i, gate)) for i in range(self.count)]
        try:
            await asyncio.wait(tasks, timeout=self.max_seconds)
        except asyncio.CancelledError:
            pass
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _slot(self, i: int, gate: asyncio.Semaphore) -> None:
        await asyncio.sleep(self.ramp * i / self.count)
        most = int(self.duration / self.listen[0]) + 2
        for _ in range(most):
            if time.monotonic() >= self.ends_at:
                return
            await self._session(self.random.uniform(*self.listen), gate)

    async def _session(self, seconds: float, gate: asyncio.Semaphore) -> None:
        writer = None
        connected = False
        try:
            async with gate:
                try:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(self.host, self.port, limit=self.chunk * 4),
                        self.head_timeout)
                    writer.write(self.request)
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.head_timeout)
                except asyncio.TimeoutError:
                    self._error("no head in time")
                    return
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
                    self._error("connection failed", type(e).__name__)
                    return
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            if line.split()[1:2] != ["200"]:
                self._error("status not 200", line)
                return
            connected = True
            self.active += 1
            start = time.monotonic()
            end = start + seconds
            received = 0
            while (left := end - time.monotonic()) > 0:
                try:
                    data = await asyncio.wait_for(reader.read(self.chunk), min(left, self.stall))
                except asyncio.TimeoutError:
                    if time.monotonic() < end:
                        self._error("stalled", f"no byte for {self.stall:g} s")
                        return
                    break               # the time was up while waiting: our choice
                if not data:
                    self._error("closed by the server", f"after {received} bytes")
                    return
                received += len(data)
                self.bytes += len(data)
                ahead = min(received / self.rate - (time.monotonic() - start), end - time.monotonic())
                if ahead > 0:
                    await asyncio.sleep(ahead)
            if received == 0:
                self._error("no audio")
                return
            self.sessions += 1
        except OSError as e:
            self._error("read failed", type(e).__name__)
        finally:
            if connected:
                self.active -= 1
            if writer is not None:
                writer.close()


def main() -> int:
    ap = argparse.ArgumentParser(description="Many listeners of one stream from one process.")
    ap.add_argument("url")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds to listen once connected")
    ap.add_argument("--rate", type=int, default=32768, help="bytes per second per listener, at most")
    args = ap.parse_args()
    swarm = Swarm(args.url, args.count, rate=args.rate).start()
    try:
        swarm.wait_connected(timeout=120)
        marks = swarm.marks()
        time.sleep(args.duration)
        out = swarm.summary()
        out["received_in_window"] = swarm.grown_since(marks)
    finally:
        swarm.close()
    print(json.dumps(out))
    return 0 if out["connected"] == args.count else 1


if __name__ == "__main__":
    sys.exit(main())
