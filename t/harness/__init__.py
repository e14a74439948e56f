"""tuneslot's integration test harness.

Real daemons on free loopback ports, each in a run directory of its own test,
stopped by PID in teardown, and a teardown check that fails the test when a
log shows a crash, a sanitizer report or an [alert]/[emerg] line.  Shared by
every integration test; t/conftest.py turns it into pytest fixtures.

Environment:
  TUNESLOT_BUILD  the CMake build directory (default: <repo>/build)
  TUNESLOT_KEEP   1: keep each test's run directory and print its path
"""

from .paths import build_dir, repo_dir, tuneslotd_binary
from .net import free_port, wait_for_port, wait_until
from .rundir import RunDir
from .process import Process, LogProblem
from .redis import Redis, RedisClient
from .icecast import Icecast, Source, Listener
from .snapshot import Snapshot, SnapshotBackend, SnapshotSlot, decode_snapshot, slot, snapshot_text
from .silent_server import SilentServer
from .status_server import StatusServer
from .icy_server import IcyServer, IcyServerProcess
from .tuneslotd import Tuneslotd, toml_text
from .notify import NotifySocket, Notification

__all__ = [
    "build_dir", "repo_dir", "tuneslotd_binary",
    "free_port", "wait_for_port", "wait_until",
    "RunDir",
    "Process", "LogProblem",
    "Redis", "RedisClient",
    "Icecast", "Source", "Listener",
    "Snapshot", "SnapshotBackend", "SnapshotSlot", "decode_snapshot", "slot", "snapshot_text",
    "SilentServer", "StatusServer", "IcyServer", "IcyServerProcess",
    "Tuneslotd", "toml_text",
    "NotifySocket", "Notification",
]
