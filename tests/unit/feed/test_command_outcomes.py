"""Command outcomes in the feed: recorded on their case from case events, once, and awaited."""

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from feed.logic import change_for, outcome_of
from feed.service import Batch, Projection, Wakeups
from shared.enums import ActorKind, Status
from shared.events import AnyCaseEvent, CommandRejected, PostAdded, StatusChanged
from tests.unit.feed.test_handlers import (
    ZACK,
    FakeCases,
    FakeDirectory,
    FakeDistricts,
    FakeFeed,
    FakeNotices,
    FakeSubjects,
    submitted,
)

AT = datetime(2026, 11, 20, 16, 30, tzinfo=UTC)
REOPEN_REASON = (
    "a case reopens within 60 days of closing; this one could be reopened until 2026-09-30 "
    "(America/Chicago); submit a new case instead"
)


def closed_by(case_id: UUID, command_id: UUID | None) -> StatusChanged:
    """Zack's close of a new case, as routing announces it."""
    return StatusChanged(
        case_id=case_id,
        occurred_at=AT,
        from_status=Status.NEW,
        to_status=Status.CLOSED,
        actor=ZACK,
        command_id=command_id,
    )


def reopen_refused(case_id: UUID, command_id: UUID) -> CommandRejected:
    """Routing's refusal of Zack's late reopen."""
    return CommandRejected(
        case_id=case_id,
        occurred_at=AT,
        command_id=command_id,
        command_type="case.reopen",
        reason=REOPEN_REASON,
        actor=ZACK,
    )


def folded(events: list[AnyCaseEvent]) -> dict[str, Any]:
    """The case document these events fold into, as the live batch and the rebuild fold."""
    batch = Batch.over({})
    for event in events:
        batch.fold(event, None)
    (doc,) = batch.states.values()
    return doc


def test_an_applied_close_records_its_outcome_and_the_status_after_it() -> None:
    """A StatusChanged carrying a command id answers that command: applied, Closed."""
    sub, command_id = submitted(), uuid4()
    case = folded([sub, closed_by(sub.case_id, command_id)])
    assert outcome_of(case, str(command_id)) == {
        "command_id": str(command_id),
        "case_id": str(sub.case_id),
        "case_number": 42,
        "command": "close",
        "outcome": "applied",
        "reason": None,
        "decided_at": AT,
        "status": "Closed",
    }


def test_a_rejected_reopen_records_the_reason_and_the_unchanged_status() -> None:
    """A CommandRejected answers its command with routing's reason; the case stays New."""
    sub, command_id = submitted(), uuid4()
    case = folded([sub, reopen_refused(sub.case_id, command_id)])
    outcome = outcome_of(case, str(command_id))
    assert (outcome["outcome"], outcome["command"]) == ("rejected", "reopen")
    assert outcome["reason"] == REOPEN_REASON
    assert (outcome["status"], outcome["decided_at"]) == ("New", AT)


def test_a_command_without_a_decision_is_pending_with_the_case_status() -> None:
    """No outcome recorded yet: pending, no command name, the case's status now."""
    sub = submitted()
    case = folded([sub, closed_by(sub.case_id, uuid4())])
    outcome = outcome_of(case, str(uuid4()))
    assert (outcome["outcome"], outcome["command"], outcome["status"]) == (
        "pending",
        None,
        "Closed",
    )
    assert (outcome["reason"], outcome["decided_at"]) == (None, None)


def test_a_move_no_command_caused_records_no_outcome() -> None:
    """A status change by a post or a timer (no command id) answers no command."""
    sub = submitted()
    case = folded([sub, closed_by(sub.case_id, None)])
    assert case.get("commands", []) == []


def test_a_redelivered_decision_is_recorded_once() -> None:
    """The same events twice (a redelivery, a replay) leave one outcome per command."""
    sub, close_id, reopen_id = submitted(), uuid4(), uuid4()
    events: list[AnyCaseEvent] = [
        sub,
        closed_by(sub.case_id, close_id),
        reopen_refused(sub.case_id, reopen_id),
    ]
    case = folded(events + events)
    assert [c["command_id"] for c in case["commands"]] == [str(close_id), str(reopen_id)]


def test_the_mongo_update_and_the_in_memory_fold_record_the_same_outcome() -> None:
    """The live path's $addToSet holds the very record the rebuild folds in memory."""
    sub, command_id = submitted(), uuid4()
    event = closed_by(sub.case_id, command_id)
    update = change_for(event).update(str(event.event_id))
    (record,) = folded([sub, event])["commands"]
    assert update["$addToSet"] == {"commands": record}
    assert record == {
        "command_id": str(command_id),
        "command": "close",
        "outcome": "applied",
        "decided_at": AT,
        "status": "Closed",
    }


def projection() -> Projection:
    """A projection over the unit fakes."""
    return Projection(
        FakeCases(), FakeFeed(), FakeNotices(), FakeDirectory(), FakeDistricts(), FakeSubjects()
    )


async def test_projecting_an_outcome_wakes_only_its_readers() -> None:
    """A reader of the decided command is woken; a reader of another command is not."""
    sub, command_id = submitted(), uuid4()
    feed = projection()
    await feed.project_all([sub])
    with (
        feed.wakeups.watch(str(command_id)) as mine,
        feed.wakeups.watch(str(uuid4())) as other,
    ):
        await feed.project_all([closed_by(sub.case_id, command_id)])
        assert (mine.is_set(), other.is_set()) == (True, False)
    assert feed.wakeups.waiting == {}


async def test_the_one_by_one_path_wakes_readers_too() -> None:
    """An event projected on its own (the catch-up after a rebuild) wakes its readers."""
    sub, command_id = submitted(), uuid4()
    feed = projection()
    await feed.project(sub)
    with feed.wakeups.watch(str(command_id)) as woken:
        await feed.project(reopen_refused(sub.case_id, command_id))
        assert woken.is_set()


async def test_a_waiting_reader_returns_when_woken() -> None:
    """A reader waiting on a wake-up resumes when the projection wakes it."""
    wakeups, command_id = Wakeups(), str(uuid4())
    with wakeups.watch(command_id) as woken:
        waiter = asyncio.create_task(woken.wait())
        await asyncio.sleep(0)
        assert not waiter.done()
        wakeups.wake([command_id])
        await asyncio.wait_for(waiter, 60)  # the guard only: a missed wake-up hangs here


def test_a_post_is_not_a_decision() -> None:
    """Events other than status changes and rejections record no outcome."""
    sub = submitted()
    post = PostAdded(
        case_id=sub.case_id,
        post_id=uuid4(),
        author=ZACK.model_copy(update={"kind": ActorKind.CONTACT}),
        body_html="<p>Thanks</p>",
        body_text="Thanks",
    )
    assert folded([sub, post]).get("commands", []) == []
