"""The last activity on a case (when, what, who, customer replied) and the request id's path."""

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from routing.clock import FixedClock
from routing.console import format_line
from routing.engine import Engine
from routing.logic import (
    BusinessCalendar,
    Context,
    RoutingTable,
    ago,
    describe_activity,
    on_command,
    on_post,
    on_submitted,
)
from routing.models import CaseState
from routing.timers import TimerService
from shared import tracing
from shared.commands import AssignCase, ChangeStatus, TransferCase
from shared.enums import ActorKind, CaseType, Department, Module, Status, Visibility
from shared.events import CaseSubmitted, PostAdded, WorkItemUpdated
from shared.messages import Actor, StaffRef
from tests.unit.routing.fakes import fake_engine, record

ZACK = Actor(kind=ActorKind.CONTACT, id="c-1", name="Zack Morris")
KELLY = Actor(kind=ActorKind.STAFF, id="s-1", name="Kelly Kapowski")
NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
REQUEST_ID = "0123456789abcdef0123456789abcdef"


def _case(new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]) -> CaseState:
    event = new_case(CaseType.ASK_A_QUESTION)
    route = RoutingTable.load().route(CaseType.ASK_A_QUESTION, Module.GRADE_BOOK)
    state = on_submitted(event, route, context()).state
    assert state is not None
    return state


def _post(state: CaseState, author: Actor, at: datetime) -> PostAdded:
    return PostAdded(
        case_id=state.case_id,
        occurred_at=at,
        post_id=uuid4(),
        author=author,
        body_html="<p>Here is the report</p>",
        body_text="Here is the report",
    )


def _queue_item(outputs: list[Any]) -> dict[str, Any]:
    (work,) = [out.value for out in outputs if out.queue is not None]
    return dict(work["item"])


def test_a_new_case_starts_with_its_submission_by_the_contact(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """The submission is the first activity: by the contact who submitted it."""
    state = _case(new_case, context)
    assert (state.last_activity, state.last_actor) == ("submitted", ZACK)
    assert state.customer_replied is False


def test_a_contact_post_is_the_last_activity_and_flags_customer_replied(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """A contact's post on an assigned case: last activity is that post, customer replied."""
    state = _case(new_case, context).model_copy(update={"status": Status.ASSIGNED})
    at = NOW + timedelta(minutes=5)
    decision = on_post(state, _post(state, ZACK, at), context(NOW + timedelta(minutes=6)))
    assert decision.state is not None
    assert decision.state.status is Status.ASSIGNED
    assert decision.state.last_activity == "post"
    assert decision.state.last_actor == ZACK
    assert decision.state.last_activity_at == at
    item = _queue_item(decision.outputs)
    assert item["last_activity"] == "post"
    assert item["last_actor"]["name"] == "Zack Morris"
    assert item["customer_replied"] is True


def test_a_staff_post_after_the_contact_clears_customer_replied(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """Kelly answers the contact's post: the last post is staff's, so no customer reply."""
    state = _case(new_case, context).model_copy(update={"status": Status.ASSIGNED})
    replied = on_post(state, _post(state, ZACK, NOW), context()).state
    assert replied is not None
    decision = on_post(replied, _post(replied, KELLY, NOW + timedelta(hours=1)), context())
    item = _queue_item(decision.outputs)
    assert (item["last_activity"], item["last_actor"]["name"]) == ("post", "Kelly Kapowski")
    assert item["customer_replied"] is False


def test_an_internal_note_after_the_contact_keeps_customer_replied(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """Kelly's internal note answers nobody: the customer still waits, so the flag stays."""
    state = _case(new_case, context).model_copy(update={"status": Status.ASSIGNED})
    replied = on_post(state, _post(state, ZACK, NOW), context()).state
    assert replied is not None
    note = _post(replied, KELLY, NOW + timedelta(hours=1)).model_copy(
        update={"visibility": Visibility.INTERNAL}
    )
    decision = on_post(replied, note, context())
    item = _queue_item(decision.outputs)
    assert item["customer_replied"] is True
    assert decision.state is not None
    assert decision.state.status is Status.ASSIGNED


def test_a_contact_answer_on_a_pending_case_is_a_post_by_the_contact(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """The answer that hands a pending case back is recorded as the contact's post."""
    base = _case(new_case, context)
    state = base.model_copy(update={"status": Status.PENDING_CUSTOMER_INPUT})
    decision = on_post(state, _post(state, ZACK, NOW), context())
    assert decision.state is not None
    assert decision.state.status is Status.ASSIGNED
    item = _queue_item(decision.outputs)
    assert (item["status"], item["last_activity"]) == ("Assigned", "post")
    assert item["customer_replied"] is True


def test_a_status_change_by_staff_is_the_last_activity_and_keeps_the_reply_flag(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """Kelly asks for input after the contact's post: a status change by her; the last post
    is still the contact's."""
    state = _case(new_case, context).model_copy(update={"status": Status.ASSIGNED})
    replied = on_post(state, _post(state, ZACK, NOW), context()).state
    assert replied is not None
    ask = ChangeStatus(
        case_id=state.case_id,
        actor=KELLY,
        to_status=Status.PENDING_CUSTOMER_INPUT,
        note="Which teacher saw it?",
    )
    later = NOW + timedelta(hours=2)
    decision = on_command(replied, ask, context(later))
    item = _queue_item(decision.outputs)
    assert (item["last_activity"], item["last_actor"]["name"]) == (
        "status change",
        "Kelly Kapowski",
    )
    assert item["last_activity_at"] == "2026-11-20T18:00:00Z"
    assert item["customer_replied"] is True


def test_an_assignment_and_a_transfer_are_last_activities(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """Taking a case records an assignment by the taker; a transfer records a transfer."""
    state = _case(new_case, context)
    take = AssignCase(case_id=state.case_id, actor=KELLY, assignee=StaffRef(id="s-1", name="K"))
    taken = on_command(state, take, context()).state
    assert taken is not None
    assert (taken.last_activity, taken.last_actor) == ("assignment", KELLY)
    move = TransferCase(
        case_id=state.case_id, actor=KELLY, department=Department.HOSTING, reason="It is hosting"
    )
    moved = on_command(taken, move, context()).state
    assert moved is not None
    assert (moved.last_activity, moved.last_actor) == ("transfer", KELLY)


@pytest.mark.parametrize(
    ("elapsed", "text"),
    [
        (timedelta(seconds=59), "just now"),
        (timedelta(minutes=5, seconds=30), "5 min ago"),
        (timedelta(hours=2, minutes=5), "2 h ago"),
        (timedelta(days=3, hours=1), "3 d ago"),
    ],
)
def test_ago_reads_for_people(elapsed: timedelta, text: str) -> None:
    """Elapsed time is said in the largest whole unit."""
    assert ago(NOW - elapsed, NOW) == text


def test_the_summary_names_what_when_and_who() -> None:
    """'post 2 h ago by Zack Morris (contact)'; nothing when there was no activity."""
    at = NOW - timedelta(hours=2)
    assert describe_activity("post", ZACK, at, NOW) == "post 2 h ago by Zack Morris (contact)"
    assert describe_activity(None, None, None, NOW) is None


def test_the_console_line_shows_last_activity_and_customer_replied(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """A queue line ends with the last activity, who made it and the customer-replied flag."""
    state = _case(new_case, context).model_copy(update={"status": Status.ASSIGNED})
    replied = on_post(state, _post(state, ZACK, NOW), context()).state
    assert replied is not None
    event = WorkItemUpdated(occurred_at=NOW, item=replied.work_item())
    line = format_line(event, NOW + timedelta(hours=2))
    assert line.endswith("| last: post 2 h ago by Zack Morris (contact)  [customer replied]")


# --- the request id through the engine -------------------------------------------------------


def _with_id(topic: str, offset: int, message: Any) -> ConsumerRecord[bytes, bytes]:
    return record(topic, offset, message, [("x-request-id", REQUEST_ID.encode())])


async def test_every_output_carries_the_request_id_of_its_input(
    new_case: Callable[..., CaseSubmitted],
) -> None:
    """A submission and a command with x-request-id: all they cause carries the same id."""
    engine: Engine = fake_engine()
    case = new_case(CaseType.REQUEST_TRAINING)
    take = ChangeStatus(case_id=case.case_id, actor=KELLY, to_status=Status.ASSIGNED)
    topics = engine.topics
    batch = {
        TopicPartition(topics.case_events, 0): [_with_id(topics.case_events, 0, case)],
        TopicPartition(topics.case_commands, 0): [record(topics.case_commands, 0, take)],
    }
    await engine.process(batch)
    producer: Any = engine.producer
    types = [json.loads(value)["type"] for _, value in producer.committed[0]]
    ids = [tracing.from_kafka(headers) for headers in producer.headers]
    by_type = dict(zip(types, ids, strict=True))
    assert by_type["case.routed"] == REQUEST_ID
    assert by_type["work.queued"] == REQUEST_ID
    # The command came without one: what it caused carries none.
    assert by_type["case.status_changed"] is None


async def test_a_dead_letter_keeps_the_request_id() -> None:
    """A command that cannot be read goes to the DLQ with its request id."""
    engine: Engine = fake_engine()
    topic = engine.topics.case_commands
    headers = [("x-request-id", REQUEST_ID.encode())]
    bad = ConsumerRecord(topic, 0, 0, 0, 0, b"k", b'{"type": "case.close"}', None, 1, 22, headers)
    await engine.process({TopicPartition(topic, 0): [bad]})
    producer: Any = engine.producer
    assert tracing.from_kafka(producer.headers[0]) == REQUEST_ID


async def test_log_lines_of_a_record_carry_its_request_id(
    new_case: Callable[..., CaseSubmitted], caplog: pytest.LogCaptureFixture
) -> None:
    """Routing the case logs with the request id of the submission."""
    engine: Engine = fake_engine()
    case = new_case(CaseType.REQUEST_TRAINING)
    topic = engine.topics.case_events
    caplog.handler.addFilter(tracing.RequestIdFilter())
    with caplog.at_level(logging.INFO, logger="routing.service"):
        await engine.process({TopicPartition(topic, 0): [_with_id(topic, 0, case)]})
    routed = [r for r in caplog.records if r.getMessage().startswith("routed case")]
    assert [getattr(r, "request_id", None) for r in routed] == [REQUEST_ID]


async def test_a_redelivered_record_resends_its_outputs_with_its_request_id(
    new_case: Callable[..., CaseSubmitted],
) -> None:
    """A batch whose commit failed is replayed from Mongo with the input's request id."""
    engine: Engine = fake_engine()
    case = new_case(CaseType.REQUEST_TRAINING)
    topic = engine.topics.case_events
    batch = {TopicPartition(topic, 0): [_with_id(topic, 0, case)]}
    producer: Any = engine.producer
    producer.fail_next_commit = True
    with pytest.raises(ConnectionError):
        await engine.process(batch)
    engine.cache.clear()  # as after a restart: the outputs come from the stored case
    producer.headers.clear()
    await engine.process(batch)
    assert len(producer.committed[0]) == 2
    assert [tracing.from_kafka(h) for h in producer.headers] == [REQUEST_ID, REQUEST_ID]


class _DueCases:
    """A case store whose one case is due for its auto-close."""

    def __init__(self, state: CaseState) -> None:
        self.state = state

    async def due(self, field: str, flags: Any, now: datetime) -> list[CaseState]:
        return [self.state] if field == "close_at" else []

    async def mark_timer(self, case_id: Any, flag: str, close_at: datetime) -> None:
        pass

    async def sla_due(self, now: datetime) -> list[CaseState]:
        return []


async def test_a_timer_command_is_published_under_a_request_id_of_its_own(
    new_case: Callable[..., CaseSubmitted],
    context: Callable[..., Context],
    calendar: BusinessCalendar,
) -> None:
    """The auto-close goes out with its command id's hex as request id, for one grep."""
    state = _case(new_case, context)
    pcv = on_command(
        state.model_copy(update={"status": Status.ASSIGNED}),
        ChangeStatus(
            case_id=state.case_id,
            actor=KELLY,
            to_status=Status.PENDING_CUSTOMER_VERIFICATION,
            note="Fixed the calendar",
        ),
        context(),
    ).state
    assert pcv is not None
    assert pcv.timers is not None
    seen: list[tuple[str, str | None]] = []

    async def publish(command: Any) -> None:
        seen.append((command.event_id.hex, tracing.current()))

    timers = TimerService(_DueCases(pcv), publish, FixedClock(NOW), calendar)  # type: ignore[arg-type]
    assert await timers.run_due(pcv.timers.close_at) == 1
    ((command_id, request_id),) = seen
    assert request_id == command_id
    assert tracing.current() is None
