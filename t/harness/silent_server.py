"""A TCP server that accepts connections and never says a word: a hung
Redis, or a backend stuck before its first byte."""

import socket
import threading
import time


class SilentServer:
    """Listens on 127.0.0.1 in a thread of the test process; accepted
    connections are held open, unanswered, until stop().

    port: 0 for a kernel-chosen port, or the port of a daemon just stopped
    (a Redis blackholed in place).  hang_up: close each connection as soon
    as it is accepted instead of holding it (a server that keeps going
    away), so that every attempt of a client is seen at once.
    accept_times holds the time.monotonic() of every accept.
    """

    def __init__(self, port: int = 0, hang_up: bool = False):
        self.hang_up = hang_up
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.accept_times: list[float] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="silent server", daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accept_times.append(time.monotonic())
            if self.hang_up:
                conn.close()
            else:
                self.accepted.append(conn)

    def stop(self) -> None:
        """Closes the held connections and the port (idempotent)."""
        self._stop.set()
        self.thread.join(timeout=5)
        for c in self.accepted:
            c.close()
        self.sock.close()
