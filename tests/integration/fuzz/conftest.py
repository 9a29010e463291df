"""Fixtures of the API fuzz tests: the four APIs started once per session, and the summary."""

import asyncio
from collections.abc import Iterator
from uuid import uuid4

import pytest

import devstack
from tests.integration.fuzz.services import (
    CONTACT_TOKEN,
    STAFF_TOKEN,
    Api,
    FuzzStack,
    forget,
    seed,
    start_services,
    wait_ready,
)
from tests.integration.fuzz.tally import summary_lines


@pytest.fixture(scope="session")
def fuzz_stack(
    stack: devstack.StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzStack]:
    """Intake, routing, feed and the status board started for this session, seeded."""
    namespace = "fz" + uuid4().hex[:8]
    admin_token = "fuzz-admin-token-" + uuid4().hex
    services = start_services(stack, namespace, tmp_path_factory.mktemp("fuzz"), admin_token)
    board = services["status_board"]
    apis = FuzzStack(
        intake=Api("intake", services["intake"].url, CONTACT_TOKEN),
        routing=Api("routing", services["routing"].url, STAFF_TOKEN),
        feed=Api("feed", services["feed"].url, CONTACT_TOKEN),
        admin=Api("admin", f"http://127.0.0.1:{board.env['FUZZ_ADMIN_PORT']}", admin_token),
    )
    try:
        wait_ready(services, apis)
        seed(apis)
        yield apis
    finally:
        for service in services.values():
            service.stop()
        asyncio.run(forget(stack, namespace))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per fuzzed API: how many cases ran, their status classes, how long."""
    lines = summary_lines(terminalreporter.config)
    if lines:
        terminalreporter.section("API fuzz")
        for line in lines:
            terminalreporter.write_line(line)
