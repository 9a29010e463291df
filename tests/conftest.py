"""Root fixtures: the local stack (started on demand, stopped if we started it) and path markers."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import devstack

TESTS_DIR = Path(__file__).resolve().parent
# A stack left running makes the next run fast; CI sets this to leave the machine clean.
STOP_AFTER = os.environ.get("DEVSTACK_STOP_AFTER_TESTS") == "1"
PATH_MARKERS = {"integration": pytest.mark.integration, "e2e": pytest.mark.e2e}


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
    try:
        yield stack
    finally:
        if started and STOP_AFTER:
            devstack.stop(started)
