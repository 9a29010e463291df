"""Cases linked to status-board incidents, in routing: the link, and the resolution noted once."""

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from routing.logic import MAX_INCIDENTS, Context, RoutingTable, on_command, on_submitted
from routing.models import CaseState, Outcome
from routing.service import IncidentNotes
from shared.commands import AnyCaseCommand, ChangeStatus, LinkIncident, NoteIncidentResolved
from shared.enums import CaseType, Department, Module, NoticeKind, NoticeStatus, Status
from shared.events import (
    CommandRejected,
    IncidentLinked,
    LinkedIncidentResolved,
    Notice,
    NoticePublished,
    NoticeResolved,
    NoticeUpdate,
)
from shared.messages import SYSTEM
from tests.unit.routing.conftest import CONTACT, KELLY, NOW, STAFF

GRADEBOOK = "inc-2026-11-20-gradebook"


@pytest.fixture
def context(context: Callable[..., Context]) -> Callable[..., Context]:
    """Outage reports are Hosting's: Kelly works there for these tests."""
    hosting = KELLY.model_copy(update={"departments": [Department.HOSTING]})
    return functools.partial(context, staff=hosting, assignee=hosting)


def _case(context: Callable[..., Context], new_case: Callable[..., Any]) -> CaseState:
    event = new_case(CaseType.REPORT_AN_OUTAGE)
    route = RoutingTable.load().route(CaseType.REPORT_AN_OUTAGE, Module.GRADE_BOOK)
    state = on_submitted(event, route, context()).state
    assert state is not None
    return state


def _link(state: CaseState, notice_id: str = GRADEBOOK, **extra: Any) -> LinkIncident:
    return LinkIncident(
        case_id=state.case_id,
        actor=extra.pop("actor", STAFF),
        notice_id=notice_id,
        title=extra.pop("title", "Gradebook unavailable"),
        **extra,
    )


def _noted(state: CaseState, notice_id: str = GRADEBOOK) -> NoteIncidentResolved:
    return NoteIncidentResolved(
        case_id=state.case_id,
        actor=SYSTEM,
        notice_id=notice_id,
        title="Gradebook unavailable",
        resolution="Service restored at 10:40; grades posted since 9:00 are saved.",
    )


def _apply(state: CaseState, command: AnyCaseCommand, context: Callable[..., Context]) -> Any:
    return on_command(state, command, context())


def test_staff_link_a_case_and_the_contact_is_told(
    context: Callable[..., Context], new_case: Callable[..., Any]
) -> None:
    """The link is kept on the case and announced on case.events; a repeat changes nothing."""
    state = _case(context, new_case)
    decision = _apply(state, _link(state), context)
    assert decision.state is not None
    [link] = decision.state.incidents
    assert (link.notice_id, link.title, link.linked_at, link.resolved_at) == (
        GRADEBOOK,
        "Gradebook unavailable",
        NOW,
        None,
    )
    [out] = decision.outputs
    event = IncidentLinked.model_validate(out.value)
    assert (event.notice_id, event.linked, event.actor) == (GRADEBOOK, True, STAFF)
    again = _apply(decision.state, _link(decision.state), context)
    assert (again.state, again.outputs, again.outcome) == (None, [], Outcome.APPLIED)


def test_an_unlink_removes_only_that_incident(
    context: Callable[..., Context], new_case: Callable[..., Any]
) -> None:
    """Two links, one removed: the other stays, and the event names the removed one."""
    state = _case(context, new_case)
    state = _apply(state, _link(state), context).state
    state = _apply(state, _link(state, "inc-sso", title="Sign-in failing"), context).state
    decision = _apply(state, _link(state, "inc-sso", title="ignored", unlink=True), context)
    assert [link.notice_id for link in decision.state.incidents] == [GRADEBOOK]
    event = IncidentLinked.model_validate(decision.outputs[0].value)
    assert (event.notice_id, event.title, event.linked) == ("inc-sso", "Sign-in failing", False)


@pytest.mark.parametrize(
    ("setup", "command", "refusal"),
    [
        ("none", {"actor": CONTACT}, "only staff link a case"),
        ("none", {"unlink": True}, "is not linked to incident"),
        ("closed", {}, "a closed case cannot be linked to an incident; reopen it first"),
        ("full", {}, f"already linked to {MAX_INCIDENTS} incidents; unlink one first"),
    ],
)
def test_refused_links_say_why(
    context: Callable[..., Context],
    new_case: Callable[..., Any],
    setup: str,
    command: dict[str, Any],
    refusal: str,
) -> None:
    """A contact, an unlink of nothing, a closed case and a full list are refused, with why."""
    state = _case(context, new_case)
    if setup == "closed":
        closing = ChangeStatus(case_id=state.case_id, actor=STAFF, to_status=Status.CLOSED)
        state = _apply(state, closing, context).state
        assert state.status is Status.CLOSED
    if setup == "full":
        for n in range(MAX_INCIDENTS):
            state = _apply(state, _link(state, f"inc-{n}"), context).state
    decision = _apply(state, _link(state, "inc-new", **command), context)
    assert decision.state is None
    assert decision.outcome is Outcome.REJECTED
    assert refusal in (decision.reason or "")
    assert CommandRejected.model_validate(decision.outputs[0].value).reason == decision.reason


def test_the_resolution_is_noted_once_and_the_status_stays(
    context: Callable[..., Context], new_case: Callable[..., Any]
) -> None:
    """The first note announces the resolution; a second (a redelivery) is ignored."""
    state = _case(context, new_case)
    state = _apply(state, _link(state), context).state
    later = NOW + timedelta(hours=1)
    decision = on_command(state, _noted(state), context(later))
    assert decision.state is not None
    assert decision.state.status is state.status
    assert decision.state.incidents[0].resolved_at == later
    [out] = decision.outputs
    event = LinkedIncidentResolved.model_validate(out.value)
    assert event.resolution.startswith("Service restored at 10:40")
    again = on_command(decision.state, _noted(decision.state), context(later))
    assert (again.state, again.outputs, again.outcome) == (None, [], Outcome.IGNORED)
    unlinked = on_command(state, _noted(state, "inc-other"), context(later))
    assert (unlinked.state, unlinked.outcome) == (None, Outcome.IGNORED)


def test_only_the_system_notes_a_resolution(
    context: Callable[..., Context], new_case: Callable[..., Any]
) -> None:
    """Staff cannot fake the board's resolution on a case."""
    state = _case(context, new_case)
    state = _apply(state, _link(state), context).state
    forged = _noted(state).model_copy(update={"actor": STAFF})
    decision = _apply(state, forged, context)
    assert decision.outcome is Outcome.REJECTED
    assert "noted by the system" in (decision.reason or "")


class _Linked:
    """A case store holding a few linked cases."""

    def __init__(self, states: list[CaseState]) -> None:
        self.states = states

    async def linked_to(self, notice_id: str, limit: int = 1_000) -> list[CaseState]:
        return [s for s in self.states if any(i.notice_id == notice_id for i in s.incidents)]


def _notice(kind: type[NoticePublished] | type[NoticeResolved], updates: int = 1) -> Any:
    notice = Notice(
        id=GRADEBOOK,
        kind=NoticeKind.INCIDENT,
        title="Gradebook unavailable",
        body="Teachers cannot open the gradebook.",
        status=NoticeStatus.RESOLVED,
        starts_at=NOW,
        updates=[
            NoticeUpdate(at=NOW, status=NoticeStatus.RESOLVED, body=f"update {n}")
            for n in range(updates, 0, -1)
        ],
    )
    return kind(event_id=uuid4(), occurred_at=NOW, notice=notice)


async def test_a_resolved_notice_sends_one_note_per_linked_case_not_yet_noted(
    context: Callable[..., Context], new_case: Callable[..., Any]
) -> None:
    """Two linked cases (one already noted) and an unlinked one: one command, with the
    notice's newest update; the same notice again derives the same command id."""
    first, second, other = (_case(context, new_case) for _ in range(3))
    first = _apply(first, _link(first), context).state
    second = _apply(second, _link(second), context).state
    second = _apply(second, _noted(second), context).state
    sent: list[AnyCaseCommand] = []

    async def publish(command: Any) -> None:
        sent.append(command)

    notes = IncidentNotes(_Linked([first, second, other]), publish)  # type: ignore[arg-type]
    assert await notes.on_notice(_notice(NoticePublished)) == 0
    assert await notes.on_notice(_notice(NoticeResolved, updates=2)) == 1
    [command] = sent
    assert isinstance(command, NoteIncidentResolved)
    assert (command.case_id, command.resolution, command.actor) == (
        first.case_id,
        "update 2",
        SYSTEM,
    )
    await notes.on_notice(_notice(NoticeResolved, updates=2))
    assert sent[1].event_id == command.event_id
