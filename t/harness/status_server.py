"""A fake backend status page inside the test process: answers chosen per
path (any status, any body, or never), for failures a real Icecast does not
produce on demand."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StatusServer:
    """HTTP on 127.0.0.1 and a kernel-chosen port, served by threads of the
    test process.  Stop it with stop() (the fixture does)."""

    def __init__(self):
        self.routes: dict[str, tuple] = {}
        self.requests: list[tuple[str, dict]] = []   # (path, headers) as received
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self):
                server.requests.append((self.path, dict(self.headers)))
                route = server.routes.get(self.path)
                if route is None:
                    route = (404, b"not found", {}, True)
                if route == "hang":
                    # accept, read the request, never answer
                    server._release.wait(timeout=60)
                    return
                if isinstance(route, tuple) and route[0] == "trickle":
                    # a 200 whose body comes one byte per delay
                    _, body, delay = route
                    self.send_response(200)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    for i in range(len(body)):
                        if server._release.wait(timeout=delay):
                            return
                        try:
                            self.wfile.write(body[i:i + 1])
                            self.wfile.flush()
                        except OSError:
                            return      # the client gave up
                    return
                status, body, headers, length = route
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if length:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass    # the client stopped reading (a body too large for it)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="status server", daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, status: int = 200, body: bytes | str = b"",
              content_type: str = "text/xml", headers: dict | None = None, length: bool = True) -> str:
        """Answers GET path with status and body; returns the URL.  With
        length=False there is no Content-Length: the body ends at close."""
        h = {"Content-Type": content_type}
        h.update(headers or {})
        self.routes[path] = (status, body.encode() if isinstance(body, str) else body, h, length)
        return self.url(path)

    def hang(self, path: str) -> str:
        """Accepts requests for path and never answers; returns the URL."""
        self.routes[path] = "hang"
        return self.url(path)

    def trickle(self, path: str, body: bytes | str, delay: float = 0.05) -> str:
        """Answers GET path with 200 and body, one byte every delay seconds;
        returns the URL."""
        self.routes[path] = ("trickle", body.encode() if isinstance(body, str) else body, delay)
        return self.url(path)

    def stop(self) -> None:
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
