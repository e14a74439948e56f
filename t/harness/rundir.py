"""A test's run directory: configs, logs and data of its daemons."""

import os
import shutil
import tempfile
from pathlib import Path


class RunDir:
    """A directory under /tmp for one test, removed afterwards.

    Mode 0755 so that a daemon that drops privileges (Icecast runs as
    nobody when started by root) can read what is in it.  With
    TUNESLOT_KEEP=1 it is kept for debugging.
    """

    def __init__(self, name: str):
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60]
        self.path = Path(tempfile.mkdtemp(prefix=f"tuneslot-{safe}-", dir="/tmp"))
        os.chmod(self.path, 0o755)
        self.keep = os.environ.get("TUNESLOT_KEEP") == "1"

    def subdir(self, name: str, mode: int = 0o755) -> Path:
        """A new directory inside the run directory."""
        d = self.path / name
        d.mkdir(mode=mode)
        os.chmod(d, mode)
        return d

    def unique(self, stem: str) -> str:
        """stem, or stem-2, stem-3, ... so that two daemons of a kind
        never share a file name."""
        name, n = stem, 1
        while (self.path / name).exists() or (self.path / f"{name}.log").exists():
            n += 1
            name = f"{stem}-{n}"
        return name

    def cleanup(self) -> bool:
        """Removes the directory, or keeps it under TUNESLOT_KEEP=1; True
        when kept (t/conftest.py lists kept ones at the end of the run)."""
        if self.keep:
            return True
        shutil.rmtree(self.path, ignore_errors=True)
        return False

    def __truediv__(self, other) -> Path:
        return self.path / other

    def __str__(self) -> str:
        return str(self.path)
