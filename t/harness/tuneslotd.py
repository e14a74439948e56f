"""tuneslotd for a test: a TOML config written from Python data, the built
binary, and helpers to read what it wrote to Redis."""

import json
import os
import shlex
import subprocess

from . import sanitizer
from .paths import tuneslotd_binary
from .process import Process
from .rundir import RunDir


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        # a JSON string is a valid TOML basic string (ASCII, \uXXXX escapes)
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML for {v!r}")


def toml_text(config: dict) -> str:
    """TOML from a dict: scalars at the top, lists of dicts as arrays of
    tables ([[backend]], [[stream]]).  Keys are written in dict order, so a
    test knows on which line each one lands."""
    out = []
    tables = []
    for key, value in config.items():
        if isinstance(value, list) and value and all(isinstance(t, dict) for t in value):
            tables.append((key, value))
        else:
            out.append(f"{key} = {_toml_value(value)}")
    for key, items in tables:
        for item in items:
            out.append("")
            out.append(f"[[{key}]]")
            out.extend(f"{k} = {_toml_value(v)}" for k, v in item.items())
    return "\n".join(out) + "\n"


class Tuneslotd(Process):
    """The daemon with a config from a dict (or TOML text as it is)."""

    def __init__(self, run_dir: RunDir, config: dict | str, name: str = "tuneslotd"):
        super().__init__(run_dir, name)
        self.binary = tuneslotd_binary()
        if not self.binary.exists():
            raise FileNotFoundError(f"{self.binary} is not built (set TUNESLOT_BUILD to the build directory)")
        self.config_path = run_dir / f"{self.name}.toml"
        self.config_path.write_text(config if isinstance(config, str) else toml_text(config))
        # as docs/tuneslotd.md advises for a file that may hold passwords:
        # tuneslotd warns about a world-readable one
        os.chmod(self.config_path, 0o600)
        #: more environment for the daemon (NOTIFY_SOCKET, WATCHDOG_USEC)
        self.extra_env: dict[str, str] = {}

    def command_line(self, *extra) -> list[str]:
        # TUNESLOT_WRAP runs the daemon under a tool, e.g. "valgrind --leak-check=full"
        wrap = shlex.split(os.environ.get("TUNESLOT_WRAP", ""))
        return [*wrap, str(self.binary), "-c", str(self.config_path), *extra]

    def start(self, *extra) -> "Tuneslotd":
        return super().start(self.command_line(*extra), env=self.env())

    def run_once(self, timeout: float = 15.0) -> int:
        """Runs with --once to the end; its exit status."""
        super().start(self.command_line("--once"), env=self.env())
        return self.wait(timeout)

    def env(self) -> dict:
        """Also the environment of any other run of the binary (`ctl`)."""
        env = sanitizer.env(self.run_dir)
        # tuneslotd must ignore proxies from the environment: with these, a
        # poll that used one would fail and the test would notice
        for var in ("http_proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
            env[var] = "http://127.0.0.1:9/"
        env.pop("no_proxy", None)
        env.pop("NO_PROXY", None)
        env.update(self.extra_env)
        return env

    def version(self) -> str:
        return subprocess.run([str(self.binary), "--version"], capture_output=True, text=True,
                              check=True, timeout=10, env=self.env()).stdout
