"""Orchestration of the parts: start missing ones, wait until healthy, stop, report status."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import kafka, mongo, paths, process, services
from .errors import StackError, say
from .ports import HOST, Ports, describe_port_conflict

INFRA_PARTS: tuple[str, ...] = ("kafka", "mongo", "smtp")
SERVICE_PARTS: tuple[str, ...] = tuple(s.name for s in services.SERVICES)
ALL_PARTS: tuple[str, ...] = INFRA_PARTS + SERVICE_PARTS

DEFAULT_TIMEOUTS: dict[str, float] = {"kafka": 120.0, "mongo": 60.0, "smtp": 30.0}
SERVICE_TIMEOUT = 90.0
POLL_S = 0.5


@dataclass(frozen=True)
class Launch:
    """How to run a part once it is prepared."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


@dataclass(frozen=True)
class Part:
    """One process of the stack."""

    name: str
    kind: str  # "infra" or "service"
    url: str
    links: dict[str, str]
    ports: tuple[tuple[str, int], ...]
    timeout: float
    prepare: Callable[[], Launch]
    check: Callable[[], bool]


@dataclass(frozen=True)
class StackSettings:
    """Where the running stack can be reached."""

    kafka_bootstrap: str
    mongo_url: str
    smtp_host: str
    smtp_port: int
    mailbox_url: str
    service_urls: dict[str, str] = field(default_factory=dict)
    stack_home: Path = field(default_factory=paths.stack_home)

    @property
    def kafka_bootstrap_servers(self) -> str:
        """Alias matching the name used by ``shared.settings.InfraSettings``."""
        return self.kafka_bootstrap


def settings(ports: Ports | None = None) -> StackSettings:
    """Connection settings of the stack for the current env (ports, STACK_HOME)."""
    p = ports or Ports.from_env()
    return StackSettings(
        kafka_bootstrap=f"{HOST}:{p.kafka}",
        mongo_url=mongo.mongo_url(p),
        smtp_host=HOST,
        smtp_port=p.smtp,
        mailbox_url=f"http://{HOST}:{p.mailbox}",
        service_urls={s.name: f"http://{HOST}:{s.port(p)}" for s in services.SERVICES},
    )


def _timeout(name: str) -> float:
    override = os.environ.get("DEVSTACK_START_TIMEOUT")
    if override:
        return float(override)
    return DEFAULT_TIMEOUTS.get(name, SERVICE_TIMEOUT)


def _base_env(ports: Ports) -> dict[str, str]:
    env = dict(os.environ)
    env.update(ports.as_env())
    env.update(services.client_env(ports))
    env["STACK_HOME"] = str(paths.stack_home())
    env["PYTHONUNBUFFERED"] = "1"
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env


def _smtp_ok(ports: Ports, timeout: float = 2.0) -> bool:
    """The sink answers /healthz and its SMTP port greets with 220."""
    if not services.http_ok(f"http://{HOST}:{ports.mailbox}/healthz", timeout):
        return False
    try:
        with socket.create_connection((HOST, ports.smtp), timeout=timeout) as sock:
            sock.settimeout(timeout)
            greeting = sock.recv(512)
            with contextlib.suppress(OSError):
                sock.sendall(b"QUIT\r\n")
            return greeting.startswith(b"220")
    except OSError:
        return False


def _service_launch(svc: services.Service, ports: Ports, env: dict[str, str]) -> Launch:
    launch_env = {**env, **services.service_env(svc, ports)}
    return Launch(services.argv(svc, ports), launch_env, services.cwd())


def _parts(ports: Ports) -> dict[str, Part]:
    env = _base_env(ports)
    home = paths.stack_home()
    result: dict[str, Part] = {
        "kafka": Part(
            name="kafka",
            kind="infra",
            url=f"{HOST}:{ports.kafka}",
            links={"bootstrap": f"{HOST}:{ports.kafka}"},
            ports=(
                ("KAFKA_PORT", ports.kafka),
                ("KAFKA_CONTROLLER_PORT", ports.kafka_controller),
            ),
            timeout=_timeout("kafka"),
            prepare=lambda: Launch(kafka.prepare(ports), env, paths.kafka_home()),
            check=lambda: kafka.healthy(ports),
        ),
        "mongo": Part(
            name="mongo",
            kind="infra",
            url=mongo.mongo_url(ports),
            links={"url": mongo.mongo_url(ports)},
            ports=(("MONGO_PORT", ports.mongo),),
            timeout=_timeout("mongo"),
            prepare=lambda: Launch(mongo.prepare(ports), env, paths.data_dir("mongo")),
            check=lambda: mongo.healthy(ports),
        ),
        "smtp": Part(
            name="smtp",
            kind="infra",
            url=f"http://{HOST}:{ports.mailbox}",
            links={"mailbox": f"http://{HOST}:{ports.mailbox}/", "smtp": f"{HOST}:{ports.smtp}"},
            ports=(("SMTP_PORT", ports.smtp), ("MAILBOX_PORT", ports.mailbox)),
            timeout=_timeout("smtp"),
            prepare=lambda: Launch(
                [
                    services.python(),
                    "-m",
                    "devstack.mailbox",
                    "--host",
                    HOST,
                    "--smtp-port",
                    str(ports.smtp),
                    "--http-port",
                    str(ports.mailbox),
                    "--data-dir",
                    str(paths.data_dir("mail")),
                ],
                env,
                home,
            ),
            check=lambda: _smtp_ok(ports),
        ),
    }
    for svc in services.SERVICES:
        base = f"http://{HOST}:{svc.port(ports)}"
        links = {"api": base, **{name: base + path for name, path in svc.pages}}
        svc_ports: list[tuple[str, int]] = [(svc.port_env, svc.port(ports))]
        for name in svc.extra_ports:
            svc_ports.append((name, int(ports.as_env()[name])))
            links[name.lower().removesuffix("_port")] = f"{HOST}:{ports.as_env()[name]}"
        admin = svc.admin_port(ports)
        if svc.admin_port_env and admin is not None:
            admin_base = f"http://{HOST}:{admin}"
            links["admin"] = admin_base
            links.update({name: admin_base + path for name, path in svc.admin_pages})
            svc_ports.append((svc.admin_port_env, admin))
        result[svc.name] = Part(
            name=svc.name,
            kind="service",
            url=base,
            links=links,
            ports=tuple(svc_ports),
            timeout=_timeout(svc.name),
            prepare=functools.partial(_service_launch, svc, ports, env),
            check=functools.partial(services.ready, svc, ports),
        )
    return result


def parts(ports: Ports | None = None) -> dict[str, Part]:
    """Every part of the stack, keyed by name, configured from env."""
    return _parts(ports or Ports.from_env())


def _check_names(names: Iterable[str]) -> list[str]:
    wanted = list(dict.fromkeys(names))
    unknown = [n for n in wanted if n not in ALL_PARTS]
    if unknown:
        raise StackError(f"unknown part(s) {', '.join(unknown)}; known: {', '.join(ALL_PARTS)}")
    return wanted


_thread_lock = threading.RLock()
_lock_depth = 0
_lock_fh: Any = None


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Serialise start/stop across threads and processes (flock on run/devstack.lock)."""
    global _lock_depth, _lock_fh
    with _thread_lock:
        if _lock_depth == 0:
            paths.ensure_layout()
            _lock_fh = (paths.run_dir() / "devstack.lock").open("w")
            fcntl.flock(_lock_fh.fileno(), fcntl.LOCK_EX)
        _lock_depth += 1
        try:
            yield
        finally:
            _lock_depth -= 1
            if _lock_depth == 0:
                fcntl.flock(_lock_fh.fileno(), fcntl.LOCK_UN)
                _lock_fh.close()
                _lock_fh = None


def _failure(part: Part, reason: str) -> str:
    log = paths.log_file(part.name)
    tail = process.tail(log, 40)
    shown = f"\n--- last lines of {log} ---\n{tail}\n---" if tail else f" (log {log} is empty)"
    return f"{part.name}: {reason}{shown}"


def _start_phase(phase: list[Part], verbose: bool, so_far: list[str]) -> list[str]:
    """Start the parts of one phase that are not running and wait until all are healthy.

    Names of started parts are appended to ``so_far`` as they start (for clean-up on error).
    """
    started: list[str] = []
    waiting: dict[str, int] = {}
    errors: list[str] = []
    to_launch: list[Part] = []
    for part in phase:
        pid = process.running_pid(part.name)
        if pid is not None:
            if part.check():
                if verbose:
                    say(f"{part.name}: already running and healthy (pid {pid})")
                continue
            waiting[part.name] = pid
            if verbose:
                say(f"{part.name}: already running (pid {pid}), waiting until healthy")
            continue
        paths.pid_file(part.name).unlink(missing_ok=True)
        conflicts = [c for env, p in part.ports if (c := describe_port_conflict(p, env))]
        if conflicts:
            errors.extend(f"{part.name}: {c}" for c in conflicts)
            continue
        to_launch.append(part)

    if not errors and to_launch:
        with ThreadPoolExecutor(max_workers=len(to_launch)) as pool:
            futures = {p.name: pool.submit(p.prepare) for p in to_launch}
        for part in to_launch:
            try:
                launch = futures[part.name].result()
            except StackError as exc:
                errors.append(f"{part.name}: {exc}")
                continue
            except Exception as exc:
                errors.append(f"{part.name}: could not prepare: {exc!r}")
                continue
            try:
                pid = process.spawn(part.name, launch.argv, env=launch.env, cwd=launch.cwd)
            except OSError as exc:
                errors.append(f"{part.name}: could not start {launch.argv[0]}: {exc}")
                continue
            started.append(part.name)
            so_far.append(part.name)
            waiting[part.name] = pid
            if verbose:
                say(f"{part.name}: started (pid {pid}), log {paths.log_file(part.name)}")

    by_name = {p.name: p for p in phase}
    begin = time.monotonic()
    while waiting:
        for name, pid in list(waiting.items()):
            part = by_name[name]
            if not process.pid_alive(pid):
                code = process.exit_code(pid)
                process.forget(pid)
                paths.pid_file(name).unlink(missing_ok=True)
                how = f" with code {code}" if code is not None else ""
                errors.append(_failure(part, f"exited during start{how}"))
                del waiting[name]
            elif part.check():
                if verbose:
                    say(f"{name}: healthy after {time.monotonic() - begin:.1f}s")
                del waiting[name]
            elif time.monotonic() - begin > part.timeout:
                errors.append(_failure(part, f"not healthy after {part.timeout:.0f}s"))
                if name in started:
                    process.stop(name)
                del waiting[name]
        if waiting:
            time.sleep(POLL_S)
    if errors:
        raise StackError("\n".join(errors))
    return started


def ensure(names: Iterable[str], *, verbose: bool = True, keep_on_error: bool = False) -> list[str]:
    """Start the named parts that are not running; wait until all are healthy.

    Infra parts start before services. Returns the names of the parts this call started.
    Raises StackError (with log tails) if a part cannot be started or never becomes healthy;
    the parts this call started are then stopped again unless ``keep_on_error``.
    """
    wanted = _check_names(names)
    with _locked():
        all_parts = parts()
        started: list[str] = []
        try:
            for group in (INFRA_PARTS, SERVICE_PARTS):
                phase = [all_parts[n] for n in group if n in wanted]
                if phase:
                    _start_phase(phase, verbose, started)
        except BaseException:
            if not keep_on_error and started:
                stop(started, verbose=verbose)
            raise
        return started


def ensure_infra(*, verbose: bool = True) -> bool:
    """Start Kafka, the Mongo-wire server and the SMTP sink if needed; True if any started."""
    return bool(ensure(INFRA_PARTS, verbose=verbose))


def ensure_all(*, verbose: bool = True) -> bool:
    """Start the infra and the five services if needed; True if anything was started."""
    return bool(ensure(ALL_PARTS, verbose=verbose))


def start_part(name: str, *, verbose: bool = True) -> bool:
    """Start one part (if it is not running) and wait until it is healthy."""
    return bool(ensure([name], verbose=verbose))


def stop_part(name: str, *, timeout: float = process.STOP_TIMEOUT_S, verbose: bool = True) -> bool:
    """Stop one part (SIGTERM, then SIGKILL after ``timeout``); True if it was running."""
    _check_names([name])
    with _locked():
        stopped = process.stop(name, timeout)
    if verbose and stopped:
        say(f"{name}: stopped")
    return stopped


def stop(names: Iterable[str], *, verbose: bool = True) -> list[str]:
    """Stop the named parts: services first (in parallel), then infra (in parallel)."""
    wanted = _check_names(names)
    stopped: list[str] = []
    with _locked():
        for group in (SERVICE_PARTS, INFRA_PARTS):
            batch = [n for n in group if n in wanted]
            if not batch:
                continue
            with ThreadPoolExecutor(max_workers=len(batch)) as pool:
                results = dict(zip(batch, pool.map(process.stop, batch), strict=True))
            for name in batch:
                if results[name]:
                    stopped.append(name)
                    if verbose:
                        say(f"{name}: stopped")
    return stopped


def down(*, verbose: bool = True) -> list[str]:
    """Stop everything (services first, then infra); returns the parts that were running."""
    return stop(ALL_PARTS, verbose=verbose)


@dataclass(frozen=True)
class PartStatus:
    """Observed state of one part."""

    name: str
    kind: str
    state: str  # "healthy", "unhealthy", "stopped", "external"
    healthy: bool
    pid: int | None
    url: str
    links: dict[str, str]
    log: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view."""
        return {
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "healthy": self.healthy,
            "pid": self.pid,
            "url": self.url,
            "links": self.links,
            "log": self.log,
        }


def _observe(part: Part) -> PartStatus:
    pid = process.running_pid(part.name)
    healthy = part.check() if pid is not None or part.kind == "infra" else False
    if pid is not None:
        state = "healthy" if healthy else "unhealthy"
    else:
        state = "external" if healthy else "stopped"
    return PartStatus(
        name=part.name,
        kind=part.kind,
        state=state,
        healthy=healthy,
        pid=pid,
        url=part.url,
        links=part.links,
        log=str(paths.log_file(part.name)),
    )


def status(names: Iterable[str] = ALL_PARTS) -> list[PartStatus]:
    """Observe every named part (health checks run in parallel)."""
    wanted = _check_names(names)
    all_parts = parts()
    with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
        return list(pool.map(_observe, [all_parts[n] for n in wanted]))


def urls() -> dict[str, str]:
    """Every URL of the stack, keyed by a short label."""
    s = settings()
    result: dict[str, str] = {
        "kafka": s.kafka_bootstrap,
        "mongo": s.mongo_url,
        "smtp": f"{s.smtp_host}:{s.smtp_port}",
        "mailbox": s.mailbox_url,
    }
    for part in parts().values():
        if part.kind == "service":
            for label, link in part.links.items():
                key = part.name if label == "api" else f"{part.name}-{label}"
                result[key] = link
    return result
