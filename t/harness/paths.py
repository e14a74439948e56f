"""Where the repository and the build are."""

import os
from pathlib import Path


def repo_dir() -> Path:
    """The repository's top directory (t/harness/../..)."""
    return Path(__file__).resolve().parents[2]


def build_dir() -> Path:
    """The CMake build directory: $TUNESLOT_BUILD, default <repo>/build."""
    env = os.environ.get("TUNESLOT_BUILD")
    return Path(env).resolve() if env else repo_dir() / "build"


def tuneslotd_binary() -> Path:
    return build_dir() / "scheduler" / "tuneslotd"
