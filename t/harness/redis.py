"""redis-server for a test, and a minimal client (no Python package needed)."""

import socket
import threading
import time

from .net import free_port, wait_for_port
from .process import Process
from .rundir import RunDir

SNAPSHOT_KEY = "{tuneslot:v1}:snapshot"
GENERATION_KEY = "{tuneslot:v1}:generation"
LEADER_KEY = "{tuneslot:v1}:leader"
ROUNDS_CHANNEL = "{tuneslot:v1}:rounds"

#: the password of the fixture redis_with_password ("tune-" and it: its ACL user's)
TEST_PASSWORD = "s3cr3t-Pa55"


class RedisError(Exception):
    """An error reply."""


class RedisClient:
    """One RESP connection, one command at a time."""

    def __init__(self, host: str, port: int, timeout: float = 5.0, password: str | None = None,
                 db: int = 0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        if password is not None:
            self.command("AUTH", password)
        if db:
            self.command("SELECT", db)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def command(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(out))
        return self._reply()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise ConnectionError(f"unexpected reply {line!r}")


class RoundWatcher:
    """A subscription to {tuneslot:v1}:rounds: tuneslotd publishes each
    generation it writes there, so every round is seen exactly once, however
    far generations jump (they are at least the round's written_ms)."""

    def __init__(self, host: str, port: int):
        self.client = RedisClient(host, port)
        reply = self.client.command("SUBSCRIBE", ROUNDS_CHANNEL)
        if reply[0] != b"subscribe":
            raise ConnectionError(f"unexpected SUBSCRIBE reply {reply!r}")

    def next(self, timeout: float = 10.0) -> int:
        """The generation of the next round written; TimeoutError if none
        comes within timeout."""
        self.client.sock.settimeout(timeout)
        try:
            kind, channel, data = self.client._reply()
        except socket.timeout:
            raise TimeoutError(f"no round published within {timeout}s") from None
        if kind != b"message":
            raise ConnectionError(f"unexpected message {kind!r}")
        return int(data)

    def drain(self, timeout: float = 10.0) -> list[int]:
        """Every generation published so far, in order, and none left behind:
        Redis answers a PING on the subscription after every message it
        queued for it before, so no pause is needed to be sure."""
        self.client.sock.settimeout(timeout)
        self.client.sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        out = []
        try:
            while True:
                reply = self.client._reply()
                if reply[0] == b"pong":
                    return out
                kind, channel, data = reply
                if kind != b"message":
                    raise ConnectionError(f"unexpected message {kind!r}")
                out.append(int(data))
        except socket.timeout:
            raise TimeoutError(f"no answer to PING on the subscription within {timeout}s") from None

    def close(self) -> None:
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RoundLog:
    """A RoundWatcher in a thread of its own: arrivals holds (time.monotonic()
    when the message came, generation) of every round published while it
    runs, at most max_seconds."""

    def __init__(self, host: str, port: int, max_seconds: float = 120.0):
        self.watcher = RoundWatcher(host, port)
        self.arrivals: list[tuple[float, int]] = []
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._thread = threading.Thread(target=self._run, name="round log", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            try:
                generation = self.watcher.next(timeout=0.2)
            except TimeoutError:
                continue
            except (OSError, ValueError) as e:
                self.error = e
                return
            self.arrivals.append((time.monotonic(), generation))

    def gaps(self, since: float = 0.0) -> list[float]:
        """Seconds between consecutive rounds that came at or after since."""
        times = [t for t, _ in self.arrivals if t >= since]
        return [b - a for a, b in zip(times, times[1:])]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.watcher.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Monitor:
    """MONITOR on one node in a thread of its own, at most max_seconds: lines
    holds (the server's unix time, the source, the command's words) of every
    command the node ran, "lua" the source of those a script ran (commands
    that came by replication name the master link's address instead)."""

    def __init__(self, host: str, port: int, password: str | None = None,
                 max_seconds: float = 120.0):
        self.client = RedisClient(host, port, password=password)
        if self.client.command("MONITOR") != "OK":
            raise ConnectionError("MONITOR was refused")
        self.lines: list[tuple[float, str, list[str]]] = []
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self.client.sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            try:
                line = self.client._line().decode(errors="replace")
            except socket.timeout:
                continue
            except (OSError, ConnectionError):
                return
            # +1700000000.123456 [0 127.0.0.1:5000] "EVALSHA" "..." ...
            stamp, _, rest = line[1:].partition(" [")
            source, _, words = rest.partition("] ")
            self.lines.append((float(stamp), source.split(" ", 1)[-1],
                               [w.strip('"') for w in words.split('" "')]))

    def since(self, t: float) -> list[tuple[float, str, list[str]]]:
        return [entry for entry in self.lines if entry[0] >= t]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.client.close()


class Redis(Process):
    """redis-server on 127.0.0.1 and a free port, without persistence, in a
    directory of its own.  With password, the default user needs it
    (requirepass) and the harness's own commands send it; extra_args go to
    redis-server as they are (for instance an ACL user:
    ["--user", "tune on >secret ~* +@all"])."""

    def __init__(self, run_dir: RunDir, name: str = "redis", password: str | None = None,
                 extra_args: list[str] | None = None):
        super().__init__(run_dir, name)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.dir = run_dir.subdir(self.name)
        self.password = password
        self.extra_args = list(extra_args or [])

    @property
    def address(self) -> str:
        """As tuneslotd's redis key wants it."""
        return f"{self.host}:{self.port}"

    def start(self) -> "Redis":
        super().start([
            "redis-server",
            "--bind", self.host, "--port", str(self.port),
            "--save", "", "--appendonly", "no",
            "--dir", str(self.dir),
            "--daemonize", "no", "--logfile", "",
            *(["--requirepass", self.password] if self.password is not None else []),
            *self.extra_args,
        ])
        wait_for_port(self.host, self.port, alive=self.running)
        return self

    def restart(self) -> "Redis":
        """Stops it and starts it again on the same port (data is lost)."""
        self.stop()
        return self.start_again()

    def start_again(self) -> "Redis":
        """Starts it again on the same port after it stopped or was killed
        (empty: it keeps nothing on disk)."""
        self.popen = None
        return self.start()

    def client(self, db: int = 0) -> RedisClient:
        return RedisClient(self.host, self.port, password=self.password, db=db)

    def command(self, *args):
        with self.client() as c:
            return c.command(*args)

    def generation(self) -> int | None:
        g = self.command("GET", GENERATION_KEY)
        return None if g is None else int(g)

    def snapshot(self) -> tuple[int | None, str | None]:
        """(generation, snapshot text) read together, as a front-end does."""
        g, s = self.command("MGET", GENERATION_KEY, SNAPSHOT_KEY)
        return (None if g is None else int(g)), (None if s is None else s.decode())

    def put_snapshot(self, text: str, generation: int, db: int = 0) -> None:
        """Writes a snapshot and its generation in one transaction, as a
        writer would, but without tuneslotd or its lease: for tests of the
        readers that need a snapshot of their own making."""
        with self.client(db) as c:
            c.command("MULTI")
            c.command("SET", SNAPSHOT_KEY, text)
            c.command("SET", GENERATION_KEY, generation)
            c.command("EXEC")

    def rounds(self) -> RoundWatcher:
        """Subscribes to the rounds channel (close it, or use with)."""
        return RoundWatcher(self.host, self.port)

    def round_log(self) -> "RoundLog":
        """Records every round published from now on, with the time it came
        (stop() it, or use with)."""
        return RoundLog(self.host, self.port)

    def info(self, section: str) -> dict[str, str]:
        """INFO section as {field: value} (the text after the first ':')."""
        out = {}
        for line in self.command("INFO", section).decode().splitlines():
            name, sep, value = line.partition(":")
            if sep and not name.startswith("#"):
                out[name] = value
        return out

    def calls(self, command: str) -> int:
        """How often a client sent command ("get", "select"), from INFO
        commandstats: calls (those that failed included) and rejected calls."""
        fields = self.info("commandstats").get(f"cmdstat_{command}")
        if fields is None:
            return 0
        counted = dict(f.split("=") for f in fields.split(","))
        return int(counted.get("calls", 0)) + int(counted.get("rejected_calls", 0))

    def refused_logins(self) -> int:
        """AUTH commands Redis refused (INFO commandstats: AUTH's failed calls)."""
        fields = self.info("commandstats").get("cmdstat_auth")
        return int(dict(f.split("=") for f in fields.split(",")).get("failed_calls", 0)) if fields else 0

    def wait_for_calls(self, command: str, more: int, timeout: float = 5.0, what: str = "",
                       since: int | None = None) -> None:
        """Waits until Redis ran command more times than now, or than since
        (a count of calls() taken before the action whose calls these are,
        when they may come before this is called): a front-end's refreshes
        are GETs of the generation, its herd claims EVALSHAs, so "ten refresh
        ticks" is wait_for_calls("get", 10), not a sleep."""
        base = self.calls(command) if since is None else since
        deadline = time.monotonic() + timeout
        while self.calls(command) < base + more:
            if time.monotonic() >= deadline:
                raise AssertionError(f"{what or command}: {self.calls(command) - base} of {more} "
                                     f"more {command.upper()} calls within {timeout}s")
            time.sleep(0.02)

    def wait_for_generation(self, minimum: int, timeout: float = 10.0) -> tuple[int, str]:
        """Waits for a generation >= minimum; returns it with its snapshot."""
        deadline = time.monotonic() + timeout
        while True:
            g, s = self.snapshot()
            if g is not None and g >= minimum:
                return g, s
            if time.monotonic() >= deadline:
                raise TimeoutError(f"redis: generation {g}, still below {minimum} after {timeout}s")
            time.sleep(0.05)
