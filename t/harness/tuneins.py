"""A steady stream of tune-ins at a fixed rate, as players arriving: each
one a new connection, a GET, the answer's head read and checked, the
connection closed; the redirect is not followed (a soak measures the front
end, and proxied listeners come from listeners.ChurnSwarm).

    stream = TuneInStream({"nginx": url1, "apache": url2}, rate=100,
                          duration=60, expect=lambda loc: loc in backends).start()
    ...
    stream.close(); print(stream.summary())

Every target gets `rate` tune-ins a second, spread evenly, in one asyncio
loop in a thread of the caller.  An answer is good when it is a 302 whose
Location expect() accepts; anything else is counted as an error by kind
(no connection, no answer within timeout, another status, a Location
expect() refuses).  At most max_in_flight tune-ins wait for their answer
per target; one that would go past it is not sent and counts as an error
("backlog"): a front end that stops answering shows as errors, never as a
pile of sockets.  When the loop itself falls behind its schedule (a busy
machine), the lost ticks are skipped and counted apart as "slipped", not
sent late in a burst.
"""

import asyncio
import threading
import time
import urllib.parse
from dataclasses import dataclass, field


@dataclass
class TargetCounts:
    """What one target answered (written by the stream's thread only)."""
    sent: int = 0
    good: int = 0
    in_flight: int = 0
    worst: float = 0.0              # the slowest answer, seconds
    errors: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.examples) < 10:
            self.examples.append(f"{kind}: {detail}" if detail else kind)


class TuneInStream:
    """rate tune-ins a second to each of targets ({name: url}) for duration
    seconds (bounded: duration + timeout + 10 s at most)."""

    def __init__(self, targets: dict[str, str], *, rate: float, duration: float,
                 expect=lambda location: True, timeout: float = 5.0, max_in_flight: int = 256):
        if rate <= 0 or duration <= 0:
            raise ValueError("rate and duration must be positive")
        self.targets = {}
        for name, url in targets.items():
            u = urllib.parse.urlsplit(url)
            if u.scheme != "http" or not u.hostname:
                raise ValueError(f"only http:// URLs: {url!r}")
            request = (f"GET {u.path or '/'} HTTP/1.1\r\nHost: {u.hostname}:{u.port or 80}\r\n"
                       "User-Agent: tuneslot-bench-tune-in\r\nConnection: close\r\n\r\n")
            self.targets[name] = (u.hostname, u.port or 80, request.encode("latin-1"))
        self.rate, self.duration, self.expect = rate, duration, expect
        self.timeout, self.max_in_flight = timeout, max_in_flight
        self.counts = {name: TargetCounts() for name in targets}
        self.slipped = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # ---- control (caller's thread) -----------------------------------------

    def start(self) -> "TuneInStream":
        self._thread = threading.Thread(target=self._run, name="tune-in stream", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def close(self, timeout: float = 30.0) -> None:
        """Stops sending, and waits for the answers still due."""
        if self._loop is not None and self._main is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._main.cancel)
            except RuntimeError:
                pass        # the loop has just finished on its own
        if self._thread is not None:
            self._thread.join(timeout)

    # ---- figures (any thread) ----------------------------------------------

    def good(self) -> int:
        return sum(c.good for c in self.counts.values())

    def error_count(self) -> int:
        return sum(sum(c.errors.values()) for c in self.counts.values())

    def summary(self) -> dict:
        return {"rate_per_target": self.rate, "slipped": self.slipped,
                "targets": {name: {"sent": c.sent, "good": c.good, "worst_s": c.worst,
                                   "errors": dict(c.errors),
                                   "error_examples": list(c.examples)}
                            for name, c in self.counts.items()}}

    # ---- the loop (stream's thread) ----------------------------------------

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
        pending: set[asyncio.Task] = set()
        start = time.monotonic()
        interval = 1.0 / self.rate
        ticks = int(self.duration * self.rate)
        tick = 0
        try:
            while tick < ticks:
                due = start + tick * interval
                now = time.monotonic()
                if now < due:
                    await asyncio.sleep(due - now)
                elif now - due > 1.0:
                    # more than a second behind: skip what is lost, do not burst
                    skip = int((now - due) / interval)
                    self.slipped += skip * len(self.targets)
                    tick += skip
                    continue
                for name, (host, port, request) in self.targets.items():
                    c = self.counts[name]
                    if c.in_flight >= self.max_in_flight:
                        c.error("backlog", f"{c.in_flight} tune-ins unanswered")
                        continue
                    c.sent += 1
                    c.in_flight += 1
                    t = asyncio.create_task(self._one(c, host, port, request))
                    pending.add(t)
                    t.add_done_callback(pending.discard)
                tick += 1
        except asyncio.CancelledError:
            pass
        if pending:
            await asyncio.wait(pending, timeout=self.timeout + 5)
        for t in list(pending):
            t.cancel()

    async def _one(self, c: TargetCounts, host: str, port: int, request: bytes) -> None:
        writer = None
        began = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                    self.timeout)
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.timeout)
            c.worst = max(c.worst, time.monotonic() - began)
        except asyncio.TimeoutError:
            c.error("no answer in time")
            return
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            c.error("connection failed", type(e).__name__)
            return
        finally:
            c.in_flight -= 1
            if writer is not None:
                writer.close()
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split()[1:2]
        location = next((v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
                         if k.strip().lower() == "location"), None)
        if status != ["302"]:
            c.error("status not 302", lines[0])
        elif location is None or not self.expect(location):
            c.error("unexpected Location", str(location))
        else:
            c.good += 1
