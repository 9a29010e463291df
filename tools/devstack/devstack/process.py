"""Background processes: spawning with pid files, liveness checks, stopping and log tails."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import paths

STOP_TIMEOUT_S = 15.0

# Popen objects of children spawned by this interpreter, kept so they can be reaped
# (no zombies, no "subprocess still running" warnings in long-lived test processes).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class PidRecord:
    """What a pid file holds."""

    part: str
    pid: int
    start_ticks: int
    started_at: str
    argv: list[str]


def _start_ticks(pid: int) -> int | None:
    """Return the kernel start time of ``pid`` (clock ticks since boot), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces; everything after the last ')' is well formed.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def _reap(pid: int) -> None:
    """Collect the exit status of ``pid`` if it is our child and has exited."""
    child = _children.get(pid)
    if child is not None:
        child.poll()  # reaps it; the Popen keeps the exit code until forget()
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def pid_alive(pid: int) -> bool:
    """Return True if ``pid`` exists and is not a zombie."""
    _reap(pid)
    return _start_ticks(pid) is not None


def read_record(part: str) -> PidRecord | None:
    """Return the pid record of ``part`` (None if there is no readable pid file)."""
    try:
        data = json.loads(paths.pid_file(part).read_text())
        return PidRecord(
            part=str(data["part"]),
            pid=int(data["pid"]),
            start_ticks=int(data["start_ticks"]),
            started_at=str(data["started_at"]),
            argv=[str(a) for a in data["argv"]],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_pid(part: str) -> int | None:
    """Return the pid of ``part`` if its pid file names a live process we started."""
    record = read_record(part)
    if record is None:
        return None
    _reap(record.pid)
    if _start_ticks(record.pid) != record.start_ticks:
        return None
    return record.pid


def exit_code(pid: int) -> int | None:
    """Return the exit code of a child we spawned, if it has exited."""
    child = _children.get(pid)
    return None if child is None else child.poll()


def spawn(
    part: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
) -> int:
    """Start ``argv`` in its own session, logging to logs/<part>.log; write its pid file."""
    paths.ensure_layout()
    log_path = paths.log_file(part)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with log_path.open("ab") as log:
        log.write(f"\n=== devstack {now}: starting {part}: {' '.join(argv)}\n".encode())
        log.flush()
        child = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
            close_fds=True,
        )
    _children[child.pid] = child
    ticks = _start_ticks(child.pid)
    record = PidRecord(
        part=part,
        pid=child.pid,
        start_ticks=ticks if ticks is not None else -1,
        started_at=now,
        argv=list(argv),
    )
    pid_path = paths.pid_file(part)
    tmp = pid_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record)))
    tmp.replace(pid_path)
    return child.pid


def _signal(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group led by ``pid`` (or to ``pid`` alone)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to exit; return True if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return not pid_alive(pid)


def stop(part: str, timeout: float = STOP_TIMEOUT_S) -> bool:
    """Stop ``part``: SIGTERM, wait up to ``timeout`` s, then SIGKILL. True if it was running."""
    pid = running_pid(part)
    stopped = False
    if pid is not None:
        stopped = True
        _signal(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout):
            _signal(pid, signal.SIGKILL)
            _wait_gone(pid, 5.0)
        child = _children.pop(pid, None)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=1.0)
    paths.pid_file(part).unlink(missing_ok=True)
    return stopped


def forget(pid: int) -> None:
    """Drop our handle on a child that has exited."""
    child = _children.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1.0)


def tail(path: Path, lines: int = 40) -> str:
    """Return the last ``lines`` lines of ``path`` ('' if it does not exist)."""
    if lines <= 0:
        return ""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            block = min(size, max(8192, lines * 400))
            fh.seek(size - block)
            data = fh.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def follow(files: Mapping[str, Path], *, prefix: bool, poll_s: float = 0.25) -> Iterator[str]:
    """Yield new lines appended to ``files`` forever (like ``tail -f``), newest first-come."""
    offsets: dict[str, int] = {}
    for name, path in files.items():
        try:
            offsets[name] = path.stat().st_size
        except OSError:
            offsets[name] = 0
    pending: dict[str, bytes] = dict.fromkeys(files, b"")
    while True:
        emitted = False
        for name, path in files.items():
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if size < offsets[name]:  # truncated or recreated
                offsets[name] = 0
            if size == offsets[name]:
                continue
            with path.open("rb") as fh:
                fh.seek(offsets[name])
                chunk = fh.read(size - offsets[name])
            offsets[name] += len(chunk)
            buf = pending[name] + chunk
            *complete, rest = buf.split(b"\n")
            pending[name] = rest
            for raw in complete:
                line = raw.decode("utf-8", errors="replace")
                emitted = True
                yield f"{name:<13}| {line}" if prefix else line
        if not emitted:
            time.sleep(poll_s)
