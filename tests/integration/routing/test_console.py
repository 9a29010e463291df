"""The staff console follows a department's queue live from the real broker."""

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI

from routing.settings import Settings
from shared.enums import CaseType, Department, Priority, Status
from shared.events import WorkItem, WorkItemQueued, WorkItemUpdated
from shared.messages import StaffRef


def _item(number: int, **changes: Any) -> WorkItem:
    fields: dict[str, Any] = {
        "case_id": f"00000000-0000-4000-8000-{number:012d}",
        "case_number": number,
        "account_id": "a-1",
        "subject": f"Training for counselors {number}",
        "case_type": CaseType.REQUEST_TRAINING,
        "priority": Priority.LOW,
        "status": Status.NEW,
        "department": Department.TRAINING,
        "billable": True,
        "created_at": datetime(2026, 11, 20, 16, 0, tzinfo=UTC),
    }
    return WorkItem.model_validate({**fields, **changes})


@pytest.fixture
async def console(
    routing_settings: Settings, routing_app: FastAPI
) -> AsyncIterator[Callable[..., Any]]:
    """Starts `python -m routing.console follow training ...`; every one is ended at the end."""
    started: list[asyncio.subprocess.Process] = []

    async def start(*flags: str) -> asyncio.subprocess.Process:
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": routing_settings.kafka_bootstrap_servers,
            "TOPIC_NAMESPACE": routing_settings.topic_namespace,
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "routing.console",
            "follow",
            "training",
            *flags,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _line(stream: asyncio.StreamReader | None) -> str:
    assert stream is not None
    return (await asyncio.wait_for(stream.readline(), 30)).decode()


async def test_console_prints_new_and_changed_items_and_exits_on_ctrl_c(
    console: Callable[..., Any], bus: Any, routing_settings: Settings
) -> None:
    """From the beginning: one line per queued and per changed item; SIGINT exits with 0."""
    topic = routing_settings.topics.queue(Department.TRAINING)
    kelly = StaffRef(id="s-1", name="Kelly Kapowski")
    queued = WorkItemQueued(item=_item(7001))
    updated = WorkItemUpdated(item=_item(7001, status=Status.ASSIGNED, assignee=kelly))
    await bus.send(topic, queued, queued.item.case_id)
    await bus.send(topic, updated, updated.item.case_id)
    proc = await console("--from-beginning")
    lines = [await _line(proc.stdout) for _ in range(2)]
    assert "new" in lines[0]
    assert "#7001" in lines[0]
    assert "New" in lines[0]
    assert "changed" in lines[1]
    assert "Kelly Kapowski" in lines[1]
    assert "Assigned" in lines[1]
    assert "Training for counselors 7001" in lines[1]
    proc.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(proc.wait(), 30) == 0


async def test_console_starts_from_latest_by_default(
    console: Callable[..., Any], bus: Any, routing_settings: Settings
) -> None:
    """Without --from-beginning, items queued before the console started are not printed."""
    topic = routing_settings.topics.queue(Department.TRAINING)
    before, after = WorkItemQueued(item=_item(7101)), WorkItemQueued(item=_item(7102))
    await bus.send(topic, before, before.item.case_id)
    proc = await console()
    assert "following" in await _line(proc.stderr)
    await bus.send(topic, after, after.item.case_id)
    line = await _line(proc.stdout)
    assert "#7102" in line
    proc.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(proc.wait(), 30) == 0
