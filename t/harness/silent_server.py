"""A TCP server that accepts connections and never says a word: a hung
Redis, or a backend stuck before its first byte."""

import socket
import time

from .listener import LoopbackListener


class SilentServer(LoopbackListener):
    """Listens on 127.0.0.1 in a thread of the test process; accepted
    connections are held open, unanswered, until stop().

    port: 0 for a kernel-chosen port, or the port of a daemon just stopped
    (a Redis blackholed in place).  hang_up: close each connection as soon
    as it is accepted instead of holding it (a server that keeps going
    away), so that every attempt of a client is seen at once.
    accept_times holds the time.monotonic() of every accept.
    """

    def __init__(self, port: int = 0, hang_up: bool = False):
        super().__init__(port, backlog=64, name="silent server")
        self.hang_up = hang_up
        self.accepted: list[socket.socket] = []
        self.accept_times: list[float] = []
        self.start()

    def on_accept(self, conn: socket.socket) -> None:
        self.accept_times.append(time.monotonic())
        if self.hang_up:
            conn.close()
        else:
            self.accepted.append(conn)

    def stop(self) -> None:
        """Closes the held connections and the port (idempotent)."""
        self.stop_listening()
        for c in self.accepted:
            c.close()
