"""Icecast 2.4 for a test, ffmpeg sources feeding it, listeners, and a
real player that says what it heard."""

import base64
import http.client
import io
import os
import platform
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from .net import free_port, wait_for_port
from .paths import repo_dir
from .process import Process
from .rundir import RunDir

ADMIN_ROOT = "/usr/share/icecast2/admin"
WEB_ROOT = "/usr/share/icecast2/web"


class Icecast(Process):
    """icecast2 with a generated config, on 127.0.0.1 and a free port.

    max_listeners maps a mount ("/demo") to its <max-listeners>; other mounts
    have no limit; clients is Icecast's <limits><clients>, every connection
    it holds (listeners, sources, status requests).  The web root is a directory of the run directory holding
    tuneslot's scheduler/load.xsl (or the file load_xsl names: an installed
    one), so http://.../load.xsl works, and Icecast's own status-json.xsl
    (with the xml2json.xslt it imports).

    Icecast refuses to run as root without <changeowner>: when the tests run
    as root it changes to nobody/nogroup right after binding its port, before
    it opens its logs, so the log directory belongs to nobody and everything
    else it reads is world-readable.
    """

    def __init__(self, run_dir: RunDir, name: str = "icecast", max_listeners: dict | None = None,
                 source_password: str = "tunesource", admin_user: str = "admin",
                 admin_password: str = "tuneadmin", clients: int = 200, load_xsl: Path | None = None):
        super().__init__(run_dir, name)
        self.clients = clients
        self.host = "127.0.0.1"
        self.port = free_port()
        self.max_listeners = dict(max_listeners or {})
        self.source_password = source_password
        self.admin_user = admin_user
        self.admin_password = admin_password

        self.dir = run_dir.subdir(self.name)
        self.webroot = run_dir.subdir(f"{self.name}/web")
        self.logdir = run_dir.subdir(f"{self.name}/log")
        self.config_path = self.dir / "icecast.xml"
        shutil.copy(load_xsl or repo_dir() / "scheduler" / "load.xsl", self.webroot / "load.xsl")
        os.chmod(self.webroot / "load.xsl", 0o644)
        # Icecast's own public JSON page (format icecast-json) and the
        # stylesheet it imports
        for page in ("status-json.xsl", "xml2json.xslt"):
            shutil.copy(Path(WEB_ROOT) / page, self.webroot / page)
            os.chmod(self.webroot / page, 0o644)
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.logdir, "nobody", "nogroup")

    # ---- config -----------------------------------------------------------

    def config_xml(self) -> str:
        mounts = "".join(
            f"""
    <mount type="normal">
        <mount-name>{escape(m)}</mount-name>
        <max-listeners>{int(n)}</max-listeners>
    </mount>"""
            for m, n in self.max_listeners.items())
        changeowner = ("""
        <changeowner><user>nobody</user><group>nogroup</group></changeowner>"""
                       if self.as_root else "")
        return f"""<icecast>
    <location>tuneslot test</location>
    <admin>test@localhost</admin>
    <hostname>{self.host}</hostname>
    <limits>
        <clients>{int(self.clients)}</clients>
        <sources>20</sources>
        <source-timeout>10</source-timeout>
        <burst-on-connect>1</burst-on-connect>
    </limits>
    <authentication>
        <source-password>{escape(self.source_password)}</source-password>
        <admin-user>{escape(self.admin_user)}</admin-user>
        <admin-password>{escape(self.admin_password)}</admin-password>
    </authentication>
    <listen-socket>
        <port>{self.port}</port>
        <bind-address>{self.host}</bind-address>
    </listen-socket>{mounts}
    <fileserve>1</fileserve>
    <paths>
        <basedir>{self.dir}</basedir>
        <logdir>{self.logdir}</logdir>
        <webroot>{self.webroot}</webroot>
        <adminroot>{ADMIN_ROOT}</adminroot>
        <pidfile>{self.logdir}/icecast.pid</pidfile>
    </paths>
    <logging>
        <accesslog>access.log</accesslog>
        <errorlog>error.log</errorlog>
        <loglevel>3</loglevel>
    </logging>
    <security>
        <chroot>0</chroot>{changeowner}
    </security>
</icecast>
"""

    # ---- life -------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> "Icecast":
        self.config_path.write_text(self.config_xml())
        os.chmod(self.config_path, 0o644)
        super().start(["icecast2", "-c", str(self.config_path)])
        self._wait_for_threads(timeout)
        wait_for_port(self.host, self.port, timeout=timeout, alive=self.running)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.admin_stats_xml()
                return self
            except (OSError, urllib.error.URLError):
                if not self.running() or time.monotonic() >= deadline:
                    raise RuntimeError(f"{self.name} did not come up; log:\n{self.log_text()}")
                time.sleep(0.05)

    #: the threads Icecast 2.4 starts besides its main one: stats, YP, slave
    #: (Debian's build has YP)
    STARTUP_THREADS = 3
    #: a sleeping thread's system call, by machine: clock_nanosleep (glibc's
    #: nanosleep()), or restart_syscall when a signal interrupted the sleep
    SLEEP_SYSCALLS = {"x86_64": {"230", "219"}, "aarch64": {"115", "128"},
                      "i686": {"267", "0"}, "i386": {"267", "0"}}

    def _threads_asleep(self) -> bool:
        """Every thread of Icecast's start-up besides the main one exists
        and sleeps in its loop (thread_sleep(), nanosleep)."""
        sleeping = self.SLEEP_SYSCALLS.get(platform.machine())
        if sleeping is None:
            raise RuntimeError(f"{self.name}: no sleeping system call known for {platform.machine()}; "
                               "add it to Icecast.SLEEP_SYSCALLS")
        try:
            others = [t for t in Path(f"/proc/{self.pid}/task").iterdir() if t.name != str(self.pid)]
            if len(others) < self.STARTUP_THREADS:
                return False
            return all((t / "syscall").read_text().split()[0] in sleeping for t in others)
        except PermissionError as e:
            # /proc/PID/task/*/syscall of a process that changed its user
            # needs CAP_SYS_PTRACE: say so rather than wait out the timeout
            raise RuntimeError(f"{self.name}: cannot read its threads' state ({e}); the tests need "
                               "CAP_SYS_PTRACE when run as root") from e
        except (OSError, IndexError):
            return False        # a thread ended between the listing and the read

    def _wait_for_threads(self, timeout: float) -> None:
        """Waits, before anything connects to Icecast, until its stats
        thread has run: Icecast 2.4.4 starts that thread and goes on to
        accept connections without waiting for it, and a connection
        accepted before the thread has queued its initial counters (our
        wait_for_port() probe) queues an increment of "connections" for a
        counter that does not exist yet; the thread then dies with SIGSEGV
        in strdup(NULL) (process_global_event): 4 in 348 starts with both
        cores busy, the port already listening and the first request
        refused.  The thread sleeps in its loop only after queueing them,
        and its YP and slave siblings sleep in theirs too, so all three
        asleep in nanosleep means the counters exist."""
        deadline = time.monotonic() + timeout
        while not self._threads_asleep():
            if not self.running():
                raise RuntimeError(f"{self.name} exited while starting; log:\n{self.log_text()}")
            if time.monotonic() >= deadline:
                raise RuntimeError(f"{self.name}: its start-up threads are not asleep after {timeout}s")
            time.sleep(0.01)

    def restart(self, timeout: float = 15.0) -> "Icecast":
        """Stops it and starts it again on the same port; sources are gone."""
        self.stop()
        self.popen = None
        return self.start(timeout)

    def log_paths(self) -> list[Path]:
        return [self.log_path, self.logdir / "error.log"]

    # ---- talking to it ----------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    #: the most get() reads: its pages are a few KiB
    GET_MAX_BYTES = 4 << 20

    def get(self, path: str, auth: bool = False, timeout: float = 5.0) -> bytes:
        """The body of a 200 response to GET path; urllib.error.HTTPError
        for any other status, OSError when the connection fails.

        Reads until Icecast closes the connection, not only the
        Content-Length bytes: Icecast 2.4.4 sends every such response from
        its file-serving thread, which goes on using the client after the
        last byte is out until it drops the client and closes the socket.
        A SIGTERM (stop()) in that window makes Icecast's shutdown
        (fserve_shutdown) free the client under that thread, which then
        dies with SIGSEGV in client_send_bytes (6 in 348 stops right after
        a request, both cores busy).  Once the socket is closed
        the thread has taken the client off its list, so a stop() after
        get() no longer reaches it.  Icecast 2.4 closes every connection
        after one response, so this waits for nothing else."""
        lines = [f"GET {path} HTTP/1.0", f"Host: {self.host}:{self.port}",
                 "User-Agent: tuneslot-test"]
        if auth:
            token = base64.b64encode(f"{self.admin_user}:{self.admin_password}".encode()).decode()
            lines.append(f"Authorization: Basic {token}")
        chunks, size = [], 0
        deadline = time.monotonic() + timeout
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            while True:
                # bounded: a stream's mount would never close
                left = deadline - time.monotonic()
                if left <= 0 or size > self.GET_MAX_BYTES:
                    raise urllib.error.URLError(f"{self.url(path)}: not closed within {timeout}s "
                                                f"and {self.GET_MAX_BYTES} bytes")
                s.settimeout(left)
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        parts = status_line.decode("latin-1").split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise urllib.error.URLError(f"{self.url(path)}: no HTTP response ({status_line[:100]!r})")
        headers = http.client.parse_headers(io.BytesIO(header_block + b"\r\n\r\n"))
        if parts[1] != "200":
            raise urllib.error.HTTPError(self.url(path), int(parts[1]), parts[2] if len(parts) > 2 else "",
                                         headers, None)
        length = headers.get("Content-Length")
        if length is None or not length.strip().isdigit():
            return body
        if len(body) < int(length):
            raise urllib.error.URLError(f"{self.url(path)}: {len(body)} of {length} bytes")
        return body[:int(length)]

    def admin_stats_xml(self) -> bytes:
        return self.get("/admin/stats", auth=True)

    def mounts(self) -> dict[str, dict[str, str]]:
        """Mounts with a source, from /admin/stats: {mount: {listeners,
        max_listeners}} as Icecast writes them (max_listeners may be
        "unlimited")."""
        root = ET.fromstring(self.admin_stats_xml())
        out = {}
        for src in root.findall("source"):
            out[src.get("mount")] = {
                "listeners": src.findtext("listeners"),
                "max_listeners": src.findtext("max_listeners"),
            }
        return out

    def wait_for_mount(self, mount: str, timeout: float = 15.0, alive=None) -> None:
        deadline = time.monotonic() + timeout
        while mount not in self.mounts():
            if alive is not None and not alive():
                raise RuntimeError(f"{self.name}: the source for {mount} exited before the mount appeared")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.name}: mount {mount} did not appear within {timeout}s")
            time.sleep(0.1)

    def wait_for_listeners(self, mount: str, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            m = self.mounts().get(mount)
            if m is not None and int(m["listeners"]) == count:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.name}: {mount} has {m and m['listeners']} listeners, "
                                   f"not {count}, after {timeout}s")
            time.sleep(0.1)


class Source(Process):
    """ffmpeg sending a live sine tone as 128 kbit/s MP3 to an Icecast mount."""

    def __init__(self, run_dir: RunDir, icecast: Icecast, mount: str, frequency: int = 440,
                 name: str = "source"):
        super().__init__(run_dir, name)
        self.icecast = icecast
        self.mount = mount
        self.frequency = frequency

    def start(self, timeout: float = 15.0) -> "Source":
        ice = self.icecast
        super().start([
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning",
            "-re", "-f", "lavfi", "-i", f"sine=frequency={self.frequency}",
            "-c:a", "libmp3lame", "-b:a", "128k",
            "-content_type", "audio/mpeg", "-f", "mp3",
            f"icecast://source:{ice.source_password}@{ice.host}:{ice.port}{self.mount}",
        ])
        ice.wait_for_mount(self.mount, timeout=timeout, alive=self.running)
        return self


class Listener:
    """A plain socket that asks Icecast (or a front-end proxying it) for a
    mount and keeps reading, in a background thread, until close(): Icecast
    counts it as a listener.  head keeps the start of what came (the header
    block, up to 8 KiB); ended_at is the time.monotonic() at which the
    server closed (end "eof") or reset (end "reset") the connection, None
    while it streams or after close()."""

    HEAD_MAX = 8192

    def __init__(self, host: str, port: int, mount: str, timeout: float = 5.0):
        self.mount = mount
        self.received = 0
        self.head = b""
        self.ended_at: float | None = None
        self.end = ""
        self._stop = threading.Event()
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.sendall(
            f"GET {mount} HTTP/1.0\r\nHost: {host}:{port}\r\n"
            f"User-Agent: tuneslot-test-listener\r\n\r\n".encode())
        self.sock.settimeout(0.5)
        self.thread = threading.Thread(target=self._read, name=f"listener {mount}", daemon=True)
        self.thread.start()

    @classmethod
    def to(cls, icecast: Icecast, mount: str) -> "Listener":
        return cls(icecast.host, icecast.port, mount)

    def _ended(self, how: str) -> None:
        if not self._stop.is_set():
            self.ended_at, self.end = time.monotonic(), how

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                self._ended("reset")
                return
            if not chunk:
                self._ended("eof")
                return
            if len(self.head) < self.HEAD_MAX and b"\r\n\r\n" not in self.head:
                self.head += chunk[:self.HEAD_MAX - len(self.head)]
            self.received += len(chunk)

    @property
    def status_line(self) -> str:
        return self.head.split(b"\r\n", 1)[0].decode(errors="replace")

    def header(self, name: str) -> str | None:
        """A response header (the first of that name), once the head came."""
        block = self.head.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        for line in block.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == name.lower():
                return v.strip()
        return None

    def wait_for_head(self, timeout: float = 5.0) -> str:
        """Waits for the whole header block; the status line."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.head:
            if self.ended_at is not None or time.monotonic() >= deadline:
                raise TimeoutError(f"listener of {self.mount}: no head within {timeout}s "
                                   f"(got {self.head[:200]!r}, end {self.end!r})")
            time.sleep(0.02)
        return self.status_line

    def close(self) -> None:
        self._stop.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(timeout=5)
        self.sock.close()


@dataclass
class Heard:
    """What play() got: ffmpeg's exit status and errors, the seconds of audio
    decoded and the frequency of its tone."""
    returncode: int
    stderr: str
    seconds: float
    frequency: float


def dominant_frequency(pcm: bytes, rate: int) -> float:
    """Frequency of a pure tone from its zero crossings (s16le mono)."""
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[:len(pcm) // 2 * 2])
    if len(samples) < 2:
        return 0.0
    crossings = sum(1 for a, b in zip(samples, samples[1:]) if (a < 0) != (b < 0))
    return crossings / 2 / (len(samples) / rate)


def play(url: str, seconds: float = 2.0, rate: int = 8000) -> Heard:
    """A real player: ffmpeg opens url (following redirects, as players do)
    and decodes the first seconds of the stream to mono PCM."""
    p = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
                        "-i", url, "-t", str(seconds), "-f", "s16le", "-ac", "1", "-ar", str(rate), "-"],
                       capture_output=True, timeout=60)
    return Heard(p.returncode, p.stderr.decode(errors="replace"), len(p.stdout) / 2 / rate,
                 dominant_frequency(p.stdout, rate))
