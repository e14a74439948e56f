"""Real RTMP servers and clients for tests: nginx with Debian's
nginx-rtmp-module (libnginx-mod-rtmp), and ffmpeg as a publisher of a live
test pattern or as a player."""

import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

from .net import free_port
from .nginx import Nginx
from .process import Process


def rtmp_module() -> Path:
    """Where Debian's libnginx-mod-rtmp put the module (dpkg -L), or a
    failure naming the package to install."""
    r = subprocess.run(["dpkg", "-L", "libnginx-mod-rtmp"], capture_output=True, text=True,
                       timeout=30)
    for line in r.stdout.splitlines():
        if line.endswith("/ngx_rtmp_module.so"):
            return Path(line)
    pytest.fail("libnginx-mod-rtmp is not installed (scripts/install-deps.sh installs it)",
                pytrace=False)


class RtmpNginx(Nginx):
    """nginx with the RTMP module only: an rtmp listener with application
    "live", and an http listener answering /stat with rtmp_stat all."""

    def __init__(self, run_dir, name: str = "nginx-rtmp"):
        rtmp_port = free_port()
        super().__init__(
            run_dir, None, name=name, workers=1, module=False,
            main_conf=(f"load_module {rtmp_module()};\n"
                       f"rtmp {{ server {{ listen 127.0.0.1:{rtmp_port}; "
                       "application live { live on; } } }\n"),
            locations="location = /stat { rtmp_stat all; }\nlocation / { return 404; }\n")
        self.rtmp_port = rtmp_port

    def stream_url(self, path: str) -> str:
        return f"rtmp://127.0.0.1:{self.rtmp_port}{path}"

    def stat(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stat", timeout=5) as r:
            return r.read().decode()

    def clients(self, name: str) -> tuple[int, bool]:
        return stream_clients(self.stat(), name)


class Ffmpeg(Process):
    """One ffmpeg: a publisher sending a test pattern, or a player reading a
    stream and throwing it away."""

    def __init__(self, run_dir, name, argv):
        super().__init__(run_dir, name)
        self._argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning", *argv]

    def start(self) -> "Ffmpeg":
        return super().start(self._argv)


def publisher(run_dir, url, name="publisher"):
    return Ffmpeg(run_dir, name, [
        "-re", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "10",
        "-f", "flv", url])


def player(run_dir, url, name="player"):
    return Ffmpeg(run_dir, name, ["-i", url, "-c", "copy", "-f", "null", "-"])


def stream_clients(stat: str, name: str) -> tuple[int, bool]:
    """(nclients, has a publisher) of the named live stream in a /stat page,
    (0, False) when it is not listed.  The stream's own <publishing/> follows
    its <nclients>; a client's is inside its <client>."""
    for m in re.finditer(r"<stream>(.*?)</stream>", stat, re.S):
        body = m.group(1)
        if re.search(rf"<name>{re.escape(name)}</name>", body):
            n = re.search(r"<nclients>(\d+)</nclients>\s*(<publishing/>)?", body)
            return (int(n.group(1)), n.group(2) is not None) if n else (0, False)
    return 0, False
