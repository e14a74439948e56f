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
