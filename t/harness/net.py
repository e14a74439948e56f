"""Loopback ports."""

import socket
import struct
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    The kernel picks it (bind to port 0); a daemon started right after gets
    it unless something else grabs it first, which on a test machine is rare
    enough that wait_for_port() reports it as a start-up failure.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float = 10.0, alive=None) -> None:
    """Waits until host:port accepts a TCP connection.

    alive, when given, is called between attempts and returns False when the
    daemon that should open the port has died, so a failed start is reported
    at once instead of after the timeout.  Raises TimeoutError.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            pass
        if alive is not None and not alive():
            raise TimeoutError(f"{host}:{port}: the process that should listen there has exited")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.1f}s")
        time.sleep(0.05)


def accept_queue(port: int, host: str = "127.0.0.1") -> int:
    """Connections waiting in the accept queue of the TCP socket listening on
    host:port (/proc/net/tcp's rx_queue of a LISTEN socket): 0 once the
    daemon accepted every client that connected.  ValueError when nothing
    listens there."""
    # the kernel prints the address as a number in the machine's byte order
    local = f"{struct.unpack('=I', socket.inet_aton(host))[0]:08X}:{port:04X}"
    with open("/proc/net/tcp") as f:
        for line in f.read().splitlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[3] == "0A":
                return int(fields[4].split(":")[1], 16)
    raise ValueError(f"nothing listens on {host}:{port}")


def wait_until(predicate, timeout: float, what: str) -> None:
    """Polls predicate() until it is true; AssertionError naming what after timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.02)


#: request targets whose stream names docs/names.md refuses, under /tune/, and
#: that reach the handler under nginx and Apache alike
HOSTILE_TARGETS = [
    b"/tune/demo..",
    b"/tune/..demo",
    b"/tune/%2e%2edemo",
    b"/tune/demo%2e%2e",
    b"/tune/.demo",
    b"/tune/demo%0d%0aSet-Cookie:x",
    b"/tune/%0d%0aSet-Cookie:%20x=1",
    b"/tune/demo%20x",
    b"/tune/d%C3%A9mo",
    b"/tune/",
    b"/tune/" + b"a" * 129,
    b"/tune/" + b"a" * 4096,
]
