"""Who may act on a case: staff of its department or a supervisor; transfers with a reason;
required texts that are blank are refused."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from routing.logic import Context, Decision, RoutingTable, on_command, on_submitted
from routing.models import CaseState, Outcome
from shared.commands import (
    AssignCase,
    ChangeStatus,
    CloseCase,
    ReopenCase,
    TransferCase,
    is_blank,
)
from shared.enums import ActorKind, CaseType, Department, Module, Status
from shared.events import CaseSubmitted, StaffMember
from shared.messages import SYSTEM, Actor, StaffRef
from shared.workflow import TransitionRefused, check_transition
from tests.unit.routing.conftest import CONTACT, KELLY, STAFF
from tests.unit.routing.fakes import fake_engine, record

HAL = StaffMember(
    id="s-hal", name="Hal Hosting", email="hal@example.com", departments=[Department.HOSTING]
)
HAL_ACTOR = Actor(kind=ActorKind.STAFF, id=HAL.id, name=HAL.name)
SKY = StaffMember(
    id="s-sky",
    name="Sky Supervisor",
    email="sky@example.com",
    departments=[Department.TRAINING],
    supervisor=True,
)
SKY_ACTOR = Actor(kind=ActorKind.STAFF, id=SKY.id, name=SKY.name)
REASON = "The district's server is down: a hosting matter"


def _campus_case(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context], status: Status
) -> CaseState:
    event = new_case(CaseType.ASK_A_QUESTION)
    route = RoutingTable.load().route(CaseType.ASK_A_QUESTION, Module.GRADE_BOOK)
    state = on_submitted(event, route, context()).state
    assert state is not None
    assert state.department is Department.CAMPUS_SUPPORT
    return state.model_copy(update={"status": status})


def _commands(state: CaseState, actor: Actor) -> list[Any]:
    case_id = state.case_id
    return [
        AssignCase(case_id=case_id, actor=actor, assignee=StaffRef(id=KELLY.id, name=KELLY.name)),
        ChangeStatus(case_id=case_id, actor=actor, to_status=Status.ASSIST_REQUEST),
        ChangeStatus(
            case_id=case_id, actor=actor, to_status=Status.PENDING_CUSTOMER_INPUT, note="Which?"
        ),
        CloseCase(case_id=case_id, actor=actor),
        TransferCase(case_id=case_id, actor=actor, department=Department.TRAINING, reason=REASON),
    ]


def _types(decision: Decision) -> list[str]:
    return [out.value["type"] for out in decision.outputs]


def test_staff_of_another_department_are_refused_every_command(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """Hosting staff cannot assign, change, close or transfer a Campus Support case: each
    command is rejected with the reason, and nothing about the case changes."""
    state = _campus_case(new_case, context, Status.ASSIGNED)
    for command in _commands(state, HAL_ACTOR):
        decision = on_command(state, command, context(staff=HAL))
        assert (decision.outcome, decision.state) == (Outcome.REJECTED, None), command.type
        assert _types(decision) == ["case.command_rejected"]
        assert decision.reason is not None
        assert "routed to Campus Support" in decision.reason
        assert "Hal Hosting is staff of Hosting / Technical Support" in decision.reason


def test_staff_of_another_department_cannot_reopen(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """Reopening a closed Campus Support case is Campus Support's (or a supervisor's)."""
    state = _campus_case(new_case, context, Status.CLOSED)
    reopen = ReopenCase(case_id=state.case_id, actor=HAL_ACTOR, details="Regression in 2611")
    decision = on_command(state, reopen, context(staff=HAL))
    assert decision.outcome is Outcome.REJECTED
    # The directory's member must be the actor: Hal's command is not Sky's.
    assert on_command(state, reopen, context(staff=SKY)).outcome is Outcome.REJECTED
    sky_reopen = reopen.model_copy(update={"actor": SKY_ACTOR})
    assert on_command(state, sky_reopen, context(staff=SKY)).outcome is Outcome.APPLIED


def test_staff_unknown_to_the_directory_are_refused(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """A staff actor the directory does not know (or no longer active) is refused."""
    state = _campus_case(new_case, context, Status.ASSIGNED)
    change = ChangeStatus(case_id=state.case_id, actor=STAFF, to_status=Status.ASSIST_REQUEST)
    for staff in (None, KELLY.model_copy(update={"active": False})):
        decision = on_command(state, change, context(staff=staff))
        assert decision.outcome is Outcome.REJECTED
        assert decision.reason is not None
        assert "not an active staff member" in decision.reason


def test_staff_of_the_department_and_supervisors_may_act(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """Kelly of Campus Support and Sky, a Training supervisor, may each act on the case."""
    state = _campus_case(new_case, context, Status.ASSIGNED)
    for actor, staff in ((STAFF, KELLY), (SKY_ACTOR, SKY)):
        for command in _commands(state, actor):
            decision = on_command(state, command, context(staff=staff))
            assert decision.outcome is Outcome.APPLIED, (command.type, decision.reason)


def test_contacts_and_the_system_are_not_department_bound(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """The contact closes their case and the system assigns by policy; department rules
    concern staff only."""
    state = _campus_case(new_case, context, Status.ASSIGNED)
    close = CloseCase(case_id=state.case_id, actor=CONTACT)
    assert on_command(state, close, context(staff=None)).outcome is Outcome.APPLIED
    new = state.model_copy(update={"status": Status.NEW})
    policy = AssignCase(case_id=state.case_id, actor=SYSTEM)
    kelly = StaffRef(id=KELLY.id, name=KELLY.name)
    decision = on_command(new, policy, context(staff=None, auto_assignee=kelly))
    assert decision.outcome is Outcome.APPLIED


def test_the_assignee_must_work_in_the_case_department(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """Kelly cannot hand a Campus Support case to Hal of Hosting; a supervisor can take it."""
    state = _campus_case(new_case, context, Status.NEW)
    to_hal = AssignCase(
        case_id=state.case_id, actor=STAFF, assignee=StaffRef(id=HAL.id, name=HAL.name)
    )
    refused = on_command(state, to_hal, context(assignee=HAL))
    assert refused.outcome is Outcome.REJECTED
    assert refused.reason is not None
    assert "transfer the case first" in refused.reason
    to_sky = AssignCase(
        case_id=state.case_id, actor=STAFF, assignee=StaffRef(id=SKY.id, name=SKY.name)
    )
    assert on_command(state, to_sky, context(assignee=SKY)).outcome is Outcome.APPLIED


def test_transfer_moves_the_case_unassigned_to_the_new_queue(
    new_case: Callable[..., CaseSubmitted], context: Callable[..., Context]
) -> None:
    """A transfer announces the new department with who, why and where from, leaves the old
    queue and enters the new one unassigned, keeping the status."""
    state = _campus_case(new_case, context, Status.ASSIGNED)
    state = state.model_copy(update={"assignee": StaffRef(id=KELLY.id, name=KELLY.name)})
    transfer = TransferCase(
        case_id=state.case_id, actor=STAFF, department=Department.HOSTING, reason=REASON
    )
    decision = on_command(state, transfer, context())
    assert decision.state is not None
    new = decision.state
    assert (new.department, new.assignee, new.status) == (Department.HOSTING, None, Status.ASSIGNED)
    routed, left, queued = decision.outputs
    assert routed.queue is None
    assert routed.value["type"] == "case.routed"
    assert routed.value["department"] == "Hosting / Technical Support"
    assert routed.value["reason"] == REASON
    assert routed.value["actor"]["id"] == STAFF.id
    assert routed.value["previous_department"] == "Campus Support"
    assert routed.value["previous_assignee"]["id"] == KELLY.id
    assert (left.queue, left.value["type"]) == (Department.CAMPUS_SUPPORT, "work.updated")
    assert (queued.queue, queued.value["type"]) == (Department.HOSTING, "work.queued")
    assert queued.value["item"]["assignee"] is None


@pytest.mark.parametrize(
    ("status", "department", "actor", "why"),
    [
        (Status.ASSIGNED, Department.CAMPUS_SUPPORT, STAFF, "already routed"),
        (Status.CLOSED, Department.HOSTING, STAFF, "reopen it first"),
        (Status.ASSIGNED, Department.HOSTING, CONTACT, "only staff"),
    ],
)
def test_transfers_that_make_no_sense_are_refused(
    new_case: Callable[..., CaseSubmitted],
    context: Callable[..., Context],
    status: Status,
    department: Department,
    actor: Actor,
    why: str,
) -> None:
    """A transfer to the same department, of a closed case, or by a contact is rejected."""
    state = _campus_case(new_case, context, status)
    transfer = TransferCase(case_id=state.case_id, actor=actor, department=department, reason="x")
    decision = on_command(state, transfer, context())
    assert decision.outcome is Outcome.REJECTED
    assert decision.reason is not None
    assert why in decision.reason


BLANKS = ["", "   \n\t ", "\u200b\u2060", "\u3000", "\x00"]


@pytest.mark.parametrize("blank", BLANKS)
def test_blank_required_texts_are_refused_by_the_contracts(blank: str) -> None:
    """Reopen details and transfer reasons that are blank after trimming break the contract,
    naming the field."""
    assert is_blank(blank)
    with pytest.raises(ValidationError, match="details"):
        ReopenCase.model_validate({"case_id": KELLY_CASE, "actor": CONTACT, "details": blank})
    with pytest.raises(ValidationError, match="reason"):
        TransferCase.model_validate(
            {"case_id": KELLY_CASE, "actor": STAFF, "department": "Hosting", "reason": blank}
        )


KELLY_CASE = "6f1d3c2e-9a4b-4f7e-8c1d-2b3a4c5d6e7f"


@pytest.mark.parametrize("blank", BLANKS[1:])
def test_blank_notes_issue_numbers_and_release_names_are_refused_by_the_workflow(
    blank: str,
) -> None:
    """A note, development issue or release name of whitespace does not satisfy a status."""
    cases = [
        (Status.PENDING_CUSTOMER_VERIFICATION, {"note": blank}, "note"),
        (Status.ASSIGNED_TO_DEVELOPMENT, {"note": "n", "development_issue": blank}, "development"),
        (Status.AVAILABLE_IN_RELEASE, {"note": "n", "release_name": blank}, "release_name"),
    ]
    for target, fields, named in cases:
        current = (
            Status.ASSIGNED_TO_DEVELOPMENT
            if target is Status.AVAILABLE_IN_RELEASE
            else Status.ASSIGNED
        )
        with pytest.raises(TransitionRefused, match=named):
            check_transition(current, target, ActorKind.STAFF, **fields)


def test_visible_text_is_not_blank() -> None:
    """Text with anything visible passes, as written."""
    assert not any(is_blank(t) for t in ("x", " x ", "\u200bx", "日本"))
    details = ReopenCase(case_id=KELLY_CASE, actor=CONTACT, details="  Still failing  ").details
    assert details == "  Still failing  "


async def test_a_command_breaking_its_contract_is_rejected_with_the_field(
    new_case: Callable[..., CaseSubmitted],
) -> None:
    """Blank reopen details arriving over Kafka are rejected with a reason naming the field
    (outcome and CommandRejected), not dead-lettered."""
    engine = fake_engine()
    case = new_case(CaseType.REQUEST_TRAINING)
    raw = {
        "type": "case.reopen",
        "event_id": "2b0e8f3c-1d2a-4c5b-9e7f-0a1b2c3d4e5f",
        "case_id": str(case.case_id),
        "actor": CONTACT.model_dump(mode="json"),
        "details": "   \n\t ",
    }
    topics = engine.topics
    value, key = json.dumps(raw).encode(), str(case.case_id).encode()
    command = ConsumerRecord(
        topics.case_commands, 0, 0, 0, 0, key, value, None, len(key), len(value), []
    )
    batch = {
        TopicPartition(topics.case_events, 0): [record(topics.case_events, 0, case)],
        TopicPartition(topics.case_commands, 0): [command],
    }
    await engine.process(batch)
    published = [(t, json.loads(v)) for txn in engine.producer.committed for t, v in txn]  # type: ignore[union-attr]
    rejected = [v for _, v in published if v["type"] == "case.command_rejected"]
    assert [t for t, _ in published if t.endswith(".dlq")] == []
    assert len(rejected) == 1
    assert rejected[0]["command_id"] == raw["event_id"]
    assert rejected[0]["reason"].startswith("details: must not be blank")
    outcome = engine.commands.outcomes[raw["event_id"]]  # type: ignore[attr-defined]
    assert (outcome["outcome"], outcome["reason"]) == ("rejected", rejected[0]["reason"])


async def test_the_engine_refuses_staff_of_another_department(
    new_case: Callable[..., CaseSubmitted],
) -> None:
    """A change from Hosting staff on a Training case, over Kafka, is rejected; Kelly of
    Training (the fake directory's) changes it."""
    engine = fake_engine()
    engine.service.directory.members[HAL.id] = HAL  # type: ignore[attr-defined]
    case = new_case(CaseType.REQUEST_TRAINING)
    topics = engine.topics
    hal = ChangeStatus(case_id=case.case_id, actor=HAL_ACTOR, to_status=Status.ASSIGNED)
    kelly = ChangeStatus(case_id=case.case_id, actor=STAFF, to_status=Status.ASSIGNED)
    batch = {
        TopicPartition(topics.case_events, 0): [record(topics.case_events, 0, case)],
        TopicPartition(topics.case_commands, 0): [
            record(topics.case_commands, 0, hal),
            record(topics.case_commands, 1, kelly),
        ],
    }
    await engine.process(batch)
    outcomes = engine.commands.outcomes  # type: ignore[attr-defined]
    assert outcomes[str(hal.event_id)]["outcome"] == "rejected"
    assert "routed to Training" in outcomes[str(hal.event_id)]["reason"]
    assert outcomes[str(kelly.event_id)]["outcome"] == "applied"
    state = engine.cases.docs[case.case_id]  # type: ignore[attr-defined]
    assert (state.status, state.assignee.id) == (Status.ASSIGNED, STAFF.id)
