"""The service manager's end of the sd_notify protocol (sd_notify(3)), for
tests: a datagram socket the test owns, given to a daemon as NOTIFY_SOCKET,
recording every message with the PID that sent it (SCM_CREDENTIALS, as
systemd checks it for NotifyAccess=main) and when it was sent (the kernel's
time stamp, not when the test got round to reading it: a test busy with
something else still sees the real gaps between keep-alives)."""

import os
import socket
import struct
import time
from dataclasses import dataclass

# <asm-generic/socket.h>; Python's socket module does not name it
SO_TIMESTAMPNS = 35


@dataclass
class Notification:
    """One datagram: its assignments in order, the sender's PID, when it
    was sent (CLOCK_REALTIME seconds, stamped by the kernel)."""
    fields: dict[str, str]
    pid: int
    at: float
    raw: bytes = b""

    def __contains__(self, key: str) -> bool:
        return key in self.fields

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.fields.get(key, default)


def parse(datagram: bytes) -> dict[str, str]:
    """KEY=VALUE lines; a line without '=' is kept with an empty value."""
    out: dict[str, str] = {}
    for line in datagram.decode("utf-8", "replace").split("\n"):
        if line:
            key, _, value = line.partition("=")
            out[key] = value
    return out


class NotifySocket:
    """An AF_UNIX datagram socket at a path (in the run directory) or, with
    abstract=True, in the abstract namespace (reachable by a daemon running
    as another user, whatever the directory modes).

    env() is what goes into the daemon's environment; messages holds every
    notification received so far, in order."""

    def __init__(self, path=None, *, abstract: bool = False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        if abstract:
            name = f"tuneslot-test-{os.getpid()}-{id(self):x}"
            self.sock.bind("\0" + name)
            self.name = "@" + name
        else:
            self.sock.bind(str(path))
            os.chmod(path, 0o666)
            self.name = str(path)
        self.messages: list[Notification] = []

    def env(self, watchdog_usec: int | None = None) -> dict[str, str]:
        env = {"NOTIFY_SOCKET": self.name}
        if watchdog_usec is not None:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        return env

    def _receive(self, timeout: float) -> Notification | None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(16))
        except (socket.timeout, BlockingIOError):
            return None
        pid, at = -1, None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, _, _ = struct.unpack("iII", payload[:12])
            elif level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                seconds, nanoseconds = struct.unpack("qq", payload[:16])
                at = seconds + nanoseconds / 1e9
        assert at is not None, "the kernel gave the datagram no time stamp"
        n = Notification(parse(data), pid, at, raw=data)
        self.messages.append(n)
        return n

    def wait_for(self, key: str, timeout: float = 10.0, value: str | None = None) -> Notification:
        """The next message (from now on) holding key (=value when given);
        every message received meanwhile is recorded."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                got = "\n".join(repr(m.raw) for m in self.messages[-10:])
                raise AssertionError(f"no {key}{'=' + value if value else ''} within {timeout}s; "
                                     f"last messages:\n{got}")
            n = self._receive(left)
            if n is not None and key in n and (value is None or n.get(key) == value):
                return n

    def drain(self, wait: float = 0.0) -> list[Notification]:
        """Whatever arrives within wait seconds (recorded, and returned)."""
        got = []
        deadline = time.monotonic() + wait
        while True:
            n = self._receive(max(deadline - time.monotonic(), 0.001))
            if n is None:
                return got
            got.append(n)

    def with_key(self, key: str) -> list[Notification]:
        return [m for m in self.messages if key in m]

    def close(self) -> None:
        self.sock.close()
