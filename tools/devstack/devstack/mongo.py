"""SecantusDB (MongoDB-wire server, GPL-2.0) run as a daemon from its own venv; never imported."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import paths
from .errors import StackError, say
from .ports import HOST, Ports

SECANTUS_REQUIREMENT = "secantusdb==0.7.0b3"
# A full test run wedged the server on 256M (it stopped answering after ten 15 MB attachments on
# top of the suite's data; WiredTiger livelocks when dirty content nears its share of the cache).
# 2G leaves headroom on a 24 GiB machine.
CACHE_SIZE = "2G"


def venv_dir() -> Path:
    """The SecantusDB venv (kept apart from the project venv: GPL-2.0, daemon only)."""
    return paths.tools_dir() / "secantus"


def daemon_path() -> Path:
    """The ``secantusd-py`` launcher inside the SecantusDB venv."""
    return venv_dir() / "bin" / "secantusd-py"


def _marker() -> Path:
    return venv_dir() / ".devstack-installed"


def find_uv() -> list[str]:
    """Return the command prefix that runs uv, or raise a StackError."""
    found = shutil.which("uv")
    if found:
        return [found]
    local = Path.home() / ".local" / "bin" / "uv"
    if local.is_file():
        return [str(local)]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    raise StackError("uv not found: run `make bootstrap` (or `python3 -m pip install --user uv`)")


def _run(cmd: list[str]) -> None:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, check=False)
    if proc.returncode != 0:
        output = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise StackError(f"command failed: {' '.join(cmd)}\n{output}")


def ensure_installed() -> None:
    """Create the SecantusDB venv and install the pinned pre-release unless already done."""
    marker = _marker()
    if (
        marker.is_file()
        and marker.read_text().strip() == SECANTUS_REQUIREMENT
        and daemon_path().is_file()
    ):
        return
    uv = find_uv()
    venv = venv_dir()
    say(f"installing {SECANTUS_REQUIREMENT} into its own venv {venv} (first run only)")
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    _run([*uv, "venv", "-q", "-p", "python3.11", str(venv)])
    _run(
        [
            *uv,
            "pip",
            "install",
            "-q",
            "-p",
            str(venv / "bin" / "python"),
            "--prerelease=allow",
            SECANTUS_REQUIREMENT,
        ]
    )
    if not daemon_path().is_file():
        raise StackError(f"{SECANTUS_REQUIREMENT} installed but {daemon_path()} is missing")
    marker.write_text(SECANTUS_REQUIREMENT + "\n")


def mongo_url(ports: Ports) -> str:
    """Client URL of the MongoDB-wire server; retryable writes off (see shared.mongo)."""
    return f"mongodb://{HOST}:{ports.mongo}/?directConnection=true&retryWrites=false"


def prepare(ports: Ports) -> list[str]:
    """Install SecantusDB if needed; return the argv that runs the daemon."""
    ensure_installed()
    data = paths.data_dir("mongo")
    data.mkdir(parents=True, exist_ok=True)
    return [
        str(daemon_path()),
        "--host",
        HOST,
        "--port",
        str(ports.mongo),
        "--storage-path",
        str(data),
        "--cache-size",
        CACHE_SIZE,
    ]


def healthy(ports: Ports, timeout: float = 2.0) -> bool:
    """Return True if the server answers ``ping`` over the wire protocol."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    ms = int(timeout * 1000)
    client: MongoClient[dict[str, object]] = MongoClient(
        mongo_url(ports),
        serverSelectionTimeoutMS=ms,
        connectTimeoutMS=ms,
        socketTimeoutMS=ms,
        appname="devstack-health",
    )
    try:
        reply = client.admin.command("ping")
        return bool(reply.get("ok"))
    except PyMongoError:
        return False
    finally:
        client.close()
