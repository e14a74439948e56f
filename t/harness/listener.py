"""A listening socket on 127.0.0.1 served by a thread of the test process:
the accept loop that the test's own servers (a silent Redis, an ICY radio, a
lying Sentinel) share; each says only what it does with a connection."""

import socket
import threading


class LoopbackListener:
    """Binds 127.0.0.1:port (0: a kernel-chosen port) at once; start()
    runs the accept loop, which hands every connection to on_accept(conn)
    until stop_listening().  The loop wakes every 0.2 s to see whether it
    should stop, so stopping is bounded."""

    def __init__(self, port: int = 0, backlog: int = 64, name: str = "listener"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(backlog)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, name=name, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()

    def on_accept(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.on_accept(conn)

    def stop_listening(self) -> None:
        """Ends the loop and closes the port (idempotent)."""
        self._stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        self.sock.close()
