"""Filesystem layout of the local stack: repo root, STACK_HOME and its sub-folders."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """Return the repository root (the folder holding the workspace pyproject.toml)."""
    env = os.environ.get("DEVSTACK_REPO_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "uv.lock").exists() or (parent / ".git").exists():
            return parent
    # tools/devstack/devstack/paths.py -> the repo root is three levels up from the package.
    return here.parents[3]


def stack_home() -> Path:
    """Return STACK_HOME (default ``<repo root>/.stack``)."""
    env = os.environ.get("STACK_HOME")
    return Path(env).expanduser().resolve() if env else repo_root() / ".stack"


def run_dir() -> Path:
    """Folder holding pid files and the lock file."""
    return stack_home() / "run"


def logs_dir() -> Path:
    """Folder holding one ``<part>.log`` per part."""
    return stack_home() / "logs"


def data_dir(part: str) -> Path:
    """Folder holding the persistent data of ``part``."""
    return stack_home() / "data" / part


def tools_dir() -> Path:
    """Folder holding downloaded tools (SecantusDB venv)."""
    return stack_home() / "tools"


def kafka_home() -> Path:
    """Folder holding the Kafka jars and rendered configuration."""
    return stack_home() / "kafka"


def log_file(part: str) -> Path:
    """Log file of ``part``."""
    return logs_dir() / f"{part}.log"


def pid_file(part: str) -> Path:
    """Pid file of ``part``."""
    return run_dir() / f"{part}.pid"


def ensure_layout() -> None:
    """Create the STACK_HOME folders if they are missing."""
    for folder in (run_dir(), logs_dir(), stack_home() / "data", tools_dir(), kafka_home()):
        folder.mkdir(parents=True, exist_ok=True)
