"""Root fixtures: the local stack (started on demand, stopped if we started it) and path markers."""

import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import devstack
from devstack import paths, process
from devstack.stack import parts as stack_parts

TESTS_DIR = Path(__file__).resolve().parent
# A stack left running makes the next run fast; CI sets this to leave the machine clean.
STOP_AFTER = os.environ.get("DEVSTACK_STOP_AFTER_TESTS") == "1"
PATH_MARKERS = {"integration": pytest.mark.integration, "e2e": pytest.mark.e2e}
# The parts the session's stack fixtures brought up or found running, with their pids.
_watched: dict[str, int] = {}
# The servers whose health (not only their process) is checked between tests: the database
# has been seen to wedge under a full run's load while its process lived on.
INFRA_CHECKED = ("mongo", "kafka")
HEALTH_EVERY_S = 20.0
HEALTH_TRIES = 3
_last_health = [time.monotonic()]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests under tests/integration and tests/e2e by their folder."""
    for item in items:
        try:
            folder = Path(item.path).resolve().relative_to(TESTS_DIR).parts[0]
        except (ValueError, IndexError):
            continue
        if folder in PATH_MARKERS:
            item.add_marker(PATH_MARKERS[folder])


def _up(parts: tuple[str, ...]) -> list[str]:
    try:
        return devstack.ensure(parts)
    except devstack.StackError as exc:
        pytest.fail(f"the local stack could not start:\n{exc}", pytrace=False)


def _watch(parts: tuple[str, ...]) -> None:
    for name in parts:
        if (pid := process.running_pid(name)) is not None:
            _watched[name] = pid


def _answers(name: str) -> bool:
    """True if the part passes its health check once within a few tries (a busy machine)."""
    check = stack_parts()[name].check
    return any(check() for _ in range(HEALTH_TRIES))


def _broken(now: float) -> dict[str, str]:
    """The watched parts that died, or (checked every HEALTH_EVERY_S) stopped answering."""
    broken = {name: "its process exited" for name in _watched if process.running_pid(name) is None}
    if now - _last_health[0] >= HEALTH_EVERY_S:
        _last_health[0] = now
        for name in INFRA_CHECKED:
            if name in _watched and name not in broken and not _answers(name):
                broken[name] = f"it stopped answering its health check ({HEALTH_TRIES} tries)"
    return broken


@pytest.fixture(autouse=True)
def _stack_alive(request: pytest.FixtureRequest) -> None:
    """Before each test, a part of the stack that died or wedged since is restarted.

    A crashed or wedged broker or database would otherwise fail every test after it, each
    waiting for its timeout, and the run would outlast CI's limit; instead the run goes on,
    and the report shows which part broke and the last lines of its log. A test that
    restarts a part itself leaves it running under a new pid, so that is not seen as broken.
    """
    broken = _broken(time.monotonic())
    if not broken:
        return
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    for name, reason in broken.items():
        log = paths.log_file(name)
        message = (
            f"\nstack: {name} (pid {_watched.pop(name)}) broke before {request.node.nodeid}: "
            f"{reason}; restarting it. Last lines of {log}:\n{process.tail(log, 30)}"
        )
        warnings.warn(message, stacklevel=1)
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(message, red=True)
        devstack.stop_part(name, verbose=False)
    _up(tuple(broken))
    _watch(tuple(broken))


def _client_env(monkeypatch: pytest.MonkeyPatch, settings: devstack.StackSettings) -> None:
    """Point InfraSettings() at this stack (matters when ports are overridden)."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap)
    monkeypatch.setenv("MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("SMTP_HOST", settings.smtp_host)
    monkeypatch.setenv("SMTP_PORT", str(settings.smtp_port))


@pytest.fixture(scope="session")
def stack() -> Iterator[devstack.StackSettings]:
    """Kafka, the Mongo-wire server and the SMTP sink, running and healthy.

    Starts whatever is not running (a stack the developer already has up is reused) and
    at the end of the session stops only the parts this fixture started.
    """
    started = _up(devstack.INFRA_PARTS)
    _watch(devstack.INFRA_PARTS)
    settings = devstack.settings()
    with pytest.MonkeyPatch.context() as monkeypatch:
        _client_env(monkeypatch, settings)
        try:
            yield settings
        finally:
            if started and STOP_AFTER:
                devstack.stop(started)


@pytest.fixture(scope="session")
def full_stack(stack: devstack.StackSettings) -> Iterator[devstack.StackSettings]:
    """The infra plus the five services, all answering /readyz."""
    started = _up(devstack.SERVICE_PARTS)
    _watch(devstack.SERVICE_PARTS)
    try:
        yield stack
    finally:
        if started and STOP_AFTER:
            devstack.stop(started)
