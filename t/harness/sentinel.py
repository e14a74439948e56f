"""Redis Sentinel on loopback: a master, its replicas and the Sentinels that
watch them, each a real redis-server on 127.0.0.1 and a free port, started
and stopped by PID like every other process of the harness.

    with SentinelSet(run_dir) as s:      # 1 master, 2 replicas, 3 Sentinels
        s.master.put_snapshot(...)
        s.nginx_words()                  # "sentinel=127.0.0.1:P,... master=tuneslot"
        old = s.master; old.kill()
        new = s.wait_for_failover(old)   # the replica the Sentinels promoted
"""

from __future__ import annotations

import threading
import time

from .listener import LoopbackListener
from .net import free_port, wait_for_port
from .process import Process
from .redis import Redis, RedisClient, RedisError
from .rundir import RunDir

MASTER_NAME = "tuneslot"


def rejoined_as_replica(node: Redis) -> bool:
    """Whether node answers as a replica with its master link up.  Sentinel
    turns a node into a replica with a MULTI holding SLAVEOF and CLIENT KILL
    TYPE normal (so that clients ask the Sentinels again): a connection of
    ours that was open at that moment, even one just made, is dropped before
    it is answered.  That drop means "not yet", not a failure; a node that
    went away stays "not yet" until the caller's wait runs out."""
    try:
        return (node.command("ROLE")[0].decode() == "slave"
                and node.info("replication").get("master_link_status") == "up")
    except ConnectionError:
        return False


class Sentinel(Process):
    """`redis-server FILE --sentinel` watching master_name at host:port.
    Sentinel rewrites its file as it learns the set-up: the file is its own."""

    def __init__(self, run_dir: RunDir, master: Redis, *, name: str = "sentinel",
                 master_name: str = MASTER_NAME, quorum: int = 2, down_after_ms: int = 1000,
                 failover_timeout_ms: int = 10000, password: str | None = None,
                 auth_pass: str | None = None, extra_lines: list[str] | None = None):
        super().__init__(run_dir, name)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.dir = run_dir.subdir(self.name)
        self.conf_path = self.dir / "sentinel.conf"
        self.master_name = master_name
        self.password = password
        lines = [
            f"bind {self.host}",
            f"port {self.port}",
            f"dir {self.dir}",
            "logfile \"\"",
            f"sentinel monitor {master_name} {master.host} {master.port} {quorum}",
            f"sentinel down-after-milliseconds {master_name} {down_after_ms}",
            f"sentinel failover-timeout {master_name} {failover_timeout_ms}",
            f"sentinel parallel-syncs {master_name} 1",
        ]
        if auth_pass is not None:
            lines.append(f"sentinel auth-pass {master_name} {auth_pass}")
        if password is not None:
            # the default user's; the Sentinels speak to each other as it
            lines += [f"requirepass {password}", f"sentinel sentinel-pass {password}"]
        lines += list(extra_lines or [])
        self.conf_path.write_text("\n".join(lines) + "\n")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "Sentinel":
        super().start(["redis-server", str(self.conf_path), "--sentinel"])
        wait_for_port(self.host, self.port, alive=self.running)
        return self

    def client(self) -> RedisClient:
        return RedisClient(self.host, self.port, password=self.password)

    def master_address(self) -> tuple[str, int] | None:
        """What this Sentinel answers for the master (None: it knows none)."""
        with self.client() as c:
            got = c.command("SENTINEL", "get-master-addr-by-name", self.master_name)
        return None if got is None else (got[0].decode(), int(got[1]))

    def refused_auths(self, username: str) -> int:
        """AUTHs as username this Sentinel refused (its ACL LOG)."""
        with self.client() as c:
            entries = c.command("ACL", "LOG")
        total = 0
        for e in entries:
            fields = dict(zip(e[0::2], e[1::2]))
            if fields.get(b"reason") == b"auth" and fields.get(b"username") == username.encode():
                total += int(fields.get(b"count", 0))
        return total

    def knows_replicas(self) -> int:
        with self.client() as c:
            return len(c.command("SENTINEL", "replicas", self.master_name))

    def knows_sentinels(self) -> int:
        with self.client() as c:
            return len(c.command("SENTINEL", "sentinels", self.master_name))


class SentinelSet:
    """A master, replicas replicating it, and Sentinels watching it, started
    together and ready: every replica in sync, every Sentinel aware of the
    replicas and of the other Sentinels (so a failover can happen at once)."""

    def __init__(self, run_dir: RunDir, *, replicas: int = 2, sentinels: int = 3,
                 down_after_ms: int = 1000, password: str | None = None,
                 sentinel_password: str | None = None, redis_args: list[str] | None = None,
                 sentinel_lines: list[str] | None = None):
        """password: the data nodes' default user's (requirepass, and what
        replicas and Sentinels authenticate with); sentinel_password: the
        Sentinels' default user's; redis_args go to every data node (ACL
        users: ["--user", "name", "on", ...]), sentinel_lines into every
        Sentinel's file (ACL users: "user name on ...")."""
        self.run_dir = run_dir
        self.sentinel_lines = list(sentinel_lines or [])
        self.password = password
        self.sentinel_password = sentinel_password
        auth = ["--masterauth", password] if password is not None else []
        # Redis 7 syncs a replica diskless, and first waits 5 s for more
        # replicas to share the transfer: every set-up (and every old master
        # rejoining after a failover) would wait those 5 s for nothing
        redis_args = ["--repl-diskless-sync-delay", "0"] + list(redis_args or [])
        self.nodes: list[Redis] = [Redis(run_dir, "redis-master", password=password,
                                         extra_args=list(redis_args or []) + auth)]
        self.replica_count = replicas
        self.sentinel_count = sentinels
        self.down_after_ms = down_after_ms
        self.redis_args = list(redis_args or []) + auth
        self.sentinels: list[Sentinel] = []

    # ---- life ---------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> "SentinelSet":
        self.nodes[0].start()
        master = self.nodes[0]
        for i in range(self.replica_count):
            r = Redis(self.run_dir, f"redis-replica{i + 1}", password=self.password,
                      extra_args=self.redis_args + ["--replicaof", master.host, str(master.port)])
            self.nodes.append(r.start())
        for i in range(self.sentinel_count):
            s = Sentinel(self.run_dir, master, name=f"sentinel{i + 1}",
                         down_after_ms=self.down_after_ms, password=self.sentinel_password,
                         auth_pass=self.password, extra_lines=self.sentinel_lines,
                         quorum=self.sentinel_count // 2 + 1)
            self.sentinels.append(s.start())
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        """Every replica linked to the master, every Sentinel seeing all
        replicas and the other Sentinels (hello messages every 2 s)."""
        deadline = time.monotonic() + timeout
        master = self.master
        while True:
            try:
                linked = sum(1 for r in self.replicas
                             if r.info("replication").get("master_link_status") == "up")
                seen = all(s.knows_replicas() >= len(self.replicas)
                           and s.knows_sentinels() >= len(self.sentinels) - 1
                           for s in self.sentinels if s.running())
                master_ok = all(s.master_address() == (master.host, master.port)
                                for s in self.sentinels if s.running())
            except (OSError, RedisError):
                linked, seen, master_ok = -1, False, False
            if linked == len(self.replicas) and seen and master_ok:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the Sentinel set-up was not ready within {timeout}s: "
                                     f"{linked} of {len(self.replicas)} replicas linked, "
                                     f"Sentinels aware of all: {seen}, agree on the master: "
                                     f"{master_ok}")
            time.sleep(0.05)

    def stop(self) -> None:
        for p in self.sentinels + self.nodes:
            p.stop()

    def processes(self) -> list[Process]:
        return self.sentinels + self.nodes

    def __enter__(self) -> "SentinelSet":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- who is who ---------------------------------------------------------

    def node_at(self, host: str, port: int) -> Redis:
        for n in self.nodes:
            if (n.host, n.port) == (host, port):
                return n
        raise AssertionError(f"no node of the set-up at {host}:{port}")

    @property
    def master(self) -> Redis:
        """The node the first running Sentinel names."""
        for s in self.sentinels:
            if s.running():
                addr = s.master_address()
                if addr is not None:
                    return self.node_at(*addr)
        raise AssertionError("no Sentinel names a master")

    @property
    def replicas(self) -> list[Redis]:
        m = self.master
        return [n for n in self.nodes if n is not m]

    def role(self, node: Redis) -> str:
        return node.command("ROLE")[0].decode()

    def rejoined(self, node: Redis) -> bool:
        """Whether node is a replica again, its link to the master up: a
        predicate for wait_until() once a hung master is let go."""
        return rejoined_as_replica(node)

    def wait_for_failover(self, old: Redis, timeout: float = 30.0) -> Redis:
        """The node that every running Sentinel names instead of old, once it
        says it is the master (ROLE), and when."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                addrs = {s.master_address() for s in self.sentinels if s.running()}
                if len(addrs) == 1:
                    (addr,) = addrs
                    if addr is not None and addr != (old.host, old.port):
                        new = self.node_at(*addr)
                        if self.role(new) == "master":
                            return new
            except (OSError, RedisError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"no failover from {old.address} within {timeout}s")
            time.sleep(0.05)

    # ---- what the components are told --------------------------------------

    def sentinel_list(self) -> str:
        return ",".join(s.address for s in self.sentinels)

    def nginx_words(self, extra: str = "") -> str:
        """The arguments of tune_redis (and TuneRedis) for this set-up, as
        its default users; extra: more (or other users' credentials)."""
        words = f"sentinel={self.sentinel_list()} master={MASTER_NAME}"
        if extra:
            return f"{words} {extra}"
        if self.password is not None:
            words += f" password={self.password}"
        if self.sentinel_password is not None:
            words += f" sentinel_password={self.sentinel_password}"
        return words


class LyingSentinel(LoopbackListener):
    """A Sentinel that names whatever the test says: a RESP server on
    127.0.0.1 in a thread of the test process, answering AUTH with +OK and
    SENTINEL get-master-addr-by-name with (host, port), any other command
    with an error.  For what a broken or hostile Sentinel may answer;
    questions counts the questions asked.  Bounded: each connection is
    served until it closes or stop()."""

    def __init__(self, host: str, port: int | str):
        self.answer = (str(host).encode(), str(port).encode())
        self.questions = 0
        super().__init__(0, backlog=16, name="lying sentinel")
        self.start()

    def on_accept(self, conn) -> None:
        threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        buf = b""
        conn.settimeout(0.2)
        with conn:
            while not self._stop.is_set():
                args, buf = self._command(conn, buf)
                if args is None:
                    return
                if not args:
                    continue
                name = args[0].upper()
                if name == b"AUTH":
                    conn.sendall(b"+OK\r\n")
                elif name == b"SENTINEL" and len(args) == 3:
                    self.questions += 1
                    h, p = self.answer
                    conn.sendall(b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(h), h, len(p), p))
                else:
                    conn.sendall(b"-ERR not this Sentinel\r\n")

    def _command(self, conn, buf):
        """One RESP array of bulk strings; ([], buf) when none came in time, (None, _)
        when the client went."""
        import socket
        while True:
            if buf.startswith(b"*") and b"\r\n" in buf:
                try:
                    n = int(buf[1:buf.index(b"\r\n")])
                    pos, args = buf.index(b"\r\n") + 2, []
                    for _ in range(n):
                        end = buf.index(b"\r\n", pos)
                        size = int(buf[pos + 1:end])
                        if len(buf) < end + 2 + size + 2:
                            raise ValueError
                        args.append(buf[end + 2:end + 2 + size])
                        pos = end + 2 + size + 2
                    return args, buf[pos:]
                except ValueError:
                    pass
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                return [], buf
            except OSError:
                return None, buf
            if not chunk:
                return None, buf
            buf += chunk

    def stop(self) -> None:
        self.stop_listening()
