"""Debian's chromium, headless, driven over the DevTools protocol (python3-websocket):
a real browser for the tests of a web page, without a browser download or a driver.

    with Browser(run_dir) as b:          # started, stopped by its PID
        page = b.open("http://127.0.0.1:PORT/")
        page.wait_for("document.querySelectorAll('tr').length > 2")
        page.evaluate("document.title")
        page.screenshot(path)
        page.problems()                  # console errors and uncaught exceptions

The browser reaches nothing but loopback: every other host name resolves to
nothing (--host-resolver-rules), and its own background traffic (updates,
sync, metrics) is switched off."""

import base64
import json
import os
import re
import signal
import threading
import time
import urllib.request
from pathlib import Path

import websocket  # python3-websocket

from .net import wait_until
from .process import Process
from .rundir import RunDir

CHROMIUM = "/usr/bin/chromium"


class Page:
    """One tab: commands and their answers over its own DevTools socket; the console's
    errors and the page's uncaught exceptions are gathered as they come."""

    def __init__(self, ws_url: str):
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self._next = 0
        self._answers: dict[int, dict] = {}
        self._errors: list[str] = []
        self._lock = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="devtools", daemon=True)
        self._reader.start()
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def _read(self) -> None:
        while not self._closed:
            try:
                message = json.loads(self.ws.recv())
            except (websocket.WebSocketException, OSError, ValueError):
                break
            with self._lock:
                if "id" in message:
                    self._answers[message["id"]] = message
                elif message.get("method") == "Runtime.exceptionThrown":
                    d = message["params"]["exceptionDetails"]
                    self._errors.append(f"uncaught: {d.get('exception', {}).get('description') or d.get('text')}")
                elif message.get("method") == "Runtime.consoleAPICalled" \
                        and message["params"]["type"] in ("error", "assert"):
                    args = message["params"]["args"]
                    self._errors.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                               for a in args))
                elif message.get("method") == "Log.entryAdded" \
                        and message["params"]["entry"]["level"] == "error":
                    e = message["params"]["entry"]
                    self._errors.append(f"log: {e.get('text')} ({e.get('url', '')})")
                self._lock.notify_all()

    def send(self, method: str, timeout: float = 30.0, **params) -> dict:
        """A DevTools command; its result, or AssertionError with the protocol's error."""
        with self._lock:
            self._next += 1
            n = self._next
        self.ws.send(json.dumps({"id": n, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        with self._lock:
            while n not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    raise AssertionError(f"DevTools: no answer to {method} within {timeout}s")
                self._lock.wait(left)
            answer = self._answers.pop(n)
        if "error" in answer:
            raise AssertionError(f"DevTools {method}: {answer['error']}")
        return answer.get("result", {})

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-able)."""
        r = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise AssertionError(f"{expression}: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 10.0, what: str = "") -> None:
        """Until the expression is truthy in the page (an element found, too: a node
        itself comes back by value as an empty object)."""
        wait_until(lambda: self.evaluate(f"!!({expression})") is True, timeout=timeout, what=what or expression)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def dark(self, on: bool) -> None:
        """Emulates prefers-color-scheme: dark (or light)."""
        self.send("Emulation.setEmulatedMedia",
                  features=[{"name": "prefers-color-scheme", "value": "dark" if on else "light"}])

    def viewport(self, width: int, height: int, mobile: bool = False) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=mobile)

    def problems(self) -> list[str]:
        with self._lock:
            return list(self._errors)

    def close(self) -> None:
        self._closed = True
        try:
            self.ws.close()
        except (websocket.WebSocketException, OSError):
            pass


class Browser(Process):
    """chromium --headless on a DevTools port of its own choosing, with a profile in the
    run directory."""

    def __init__(self, run_dir: RunDir, name: str = "chromium"):
        super().__init__(run_dir, name)
        self.profile = run_dir / f"{self.name}-profile"
        self.devtools: str | None = None
        self.pages: list[Page] = []

    def start(self) -> "Browser":
        self.profile.mkdir()
        super().start([
            CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", f"--user-data-dir={self.profile}",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--no-pings", "--metrics-recording-only",
            "--disable-domain-reliability", "--disable-breakpad", "--password-store=basic",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
            "--window-size=1280,900", "about:blank"])
        wait_until(lambda: self._devtools_url() is not None or not self.running(), timeout=30,
                   what="chromium's DevTools port")
        if not self.running():
            raise AssertionError(f"chromium exited:\n{self.log_text()[-3000:]}")
        return self

    def _devtools_url(self) -> str | None:
        m = re.search(r"DevTools listening on (ws://127\.0\.0\.1:(\d+)/\S+)", self.log_text())
        if m:
            self.devtools = f"127.0.0.1:{m.group(2)}"
        return self.devtools

    def open(self, url: str) -> Page:
        """A new tab at url, loaded."""
        req = urllib.request.Request(f"http://{self.devtools}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            target = json.load(r)
        page = Page(target["webSocketDebuggerUrl"])
        self.pages.append(page)
        page.navigate(url)
        return page

    def stop(self):
        for p in self.pages:
            p.close()
        status = super().stop()
        # its renderers and helpers are in its session, whose id is its PID: none outlives it
        if self.popen is not None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return status

    def __enter__(self) -> "Browser":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
