"""The impact assessment (the seeds' Triage Process) and the priority change, in routing."""

import functools
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from routing.logic import Context, RoutingTable, on_command, on_submitted, suggest_priority
from routing.models import CaseState
from routing.store import QueueFilter
from shared.commands import ChangePriority, ChangeStatus, RecordTriage
from shared.enums import CaseType, Department, Disruption, Module, Priority, Status
from shared.events import CaseSubmitted, PriorityChanged, TriageRecorded, WorkItemUpdated
from shared.messages import Triage
from tests.unit.routing.conftest import CONTACT, KELLY, STAFF
from tests.unit.routing.test_sla import FRIDAY_1630, chicago, ctx_at, open_case

# The seeds' example case: none of one school's English teachers can post grades.
GRADES = Triage(
    disruption=Disruption.SIGNIFICANT,
    daily_functions_blocked=True,
    workaround_exists=False,
    several_sites=False,
    several_users=True,
)
# A cosmetic issue one user noticed, with a way around it.
COSMETIC = Triage(
    disruption=Disruption.MINIMAL,
    daily_functions_blocked=False,
    workaround_exists=True,
    several_sites=False,
    several_users=False,
)
# The district cannot reach the product at all, in every school.
OUTAGE = Triage(
    disruption=Disruption.SEVERE,
    daily_functions_blocked=True,
    workaround_exists=False,
    several_sites=True,
    several_users=True,
)


def _case(
    context: Callable[..., Context], new_case: Callable[..., Any], kind: CaseType
) -> CaseState:
    event: CaseSubmitted = new_case(kind)
    route = RoutingTable.load().route(kind, Module.GRADE_BOOK)
    state = on_submitted(event, route, context()).state
    assert state is not None
    return state


def _outputs(decision: Any) -> list[dict[str, Any]]:
    return [out.value for out in decision.outputs]


@pytest.mark.parametrize(
    ("triage", "case_type", "expected"),
    [
        (GRADES, CaseType.APPLICATION_ISSUE, Priority.HIGH),
        (COSMETIC, CaseType.APPLICATION_ISSUE, Priority.LOW),
        (OUTAGE, CaseType.REPORT_AN_OUTAGE, Priority.CRITICAL),
        # the same answers on another type: Critical is for outage cases only
        (OUTAGE, CaseType.APPLICATION_ISSUE, Priority.HIGH),
        (
            COSMETIC.model_copy(
                update={"disruption": Disruption.MODERATE, "workaround_exists": False}
            ),
            CaseType.ASK_A_QUESTION,
            Priority.MEDIUM,
        ),
        # an outage with a workaround is serious, not Critical
        (
            OUTAGE.model_copy(update={"workaround_exists": True}),
            CaseType.REPORT_AN_OUTAGE,
            Priority.HIGH,
        ),
    ],
)
def test_the_assessment_suggests_a_priority(
    triage: Triage, case_type: CaseType, expected: Priority
) -> None:
    """Blocked daily functions without a workaround weigh most; Critical needs an outage."""
    assert suggest_priority(triage, case_type) is expected


def test_a_qualified_defect_names_its_development_issue() -> None:
    """defect_qualified needs the issue number, and an issue needs the qualification."""
    with pytest.raises(ValidationError, match="development_issue is required"):
        GRADES.model_copy(update={"defect_qualified": True}).model_validate(
            {**GRADES.model_dump(), "defect_qualified": True}
        )
    with pytest.raises(ValidationError, match="qualify the defect"):
        Triage.model_validate({**GRADES.model_dump(), "development_issue": "DEV-1"})
    qualified = Triage.model_validate(
        {**GRADES.model_dump(), "defect_qualified": True, "development_issue": "DEV-4821"}
    )
    assert qualified.development_issue == "DEV-4821"


def test_staff_record_the_assessment_on_the_case_and_its_work_item(
    context: Callable[..., Context], new_case: Callable[..., Any]
) -> None:
    """Kelly's assessment is kept, announced with its suggestion, and shown in the queue."""
    state = _case(context, new_case, CaseType.ASK_A_QUESTION)
    command = RecordTriage(case_id=state.case_id, actor=STAFF, triage=GRADES)
    decision = on_command(state, command, context())
    assert decision.state is not None
    assert decision.state.triage == GRADES
    recorded, work = _outputs(decision)
    event = TriageRecorded.model_validate(recorded)
    assert (event.triage, event.suggested_priority, event.actor) == (GRADES, Priority.HIGH, STAFF)
    item = WorkItemUpdated.model_validate(work).item
    assert item.triage == GRADES
    # the priority itself is the staff member's call, not the suggestion's
    assert decision.state.priority is Priority.MEDIUM
    again = on_command(
        decision.state, RecordTriage(case_id=state.case_id, actor=STAFF, triage=GRADES), context()
    )
    assert (again.state, again.outputs) == (None, [])


def test_a_contact_cannot_record_an_assessment(
    context: Callable[..., Context], new_case: Callable[..., Any]
) -> None:
    """The assessment is staff's: a contact's command is rejected with the reason."""
    state = _case(context, new_case, CaseType.ASK_A_QUESTION)
    decision = on_command(
        state, RecordTriage(case_id=state.case_id, actor=CONTACT, triage=GRADES), context()
    )
    assert decision.state is None
    assert decision.reason == "only staff record the impact assessment of a case"


def test_a_priority_change_moves_the_due_times_and_is_announced(
    context: Callable[..., Context], new_case: Callable[..., Any]
) -> None:
    """Medium to High on Monday: the first response is due Tuesday 12:30, not 16:30."""
    state = open_case(context, new_case, FRIDAY_1630, priority=Priority.MEDIUM)
    command = ChangePriority(
        case_id=state.case_id,
        actor=STAFF,
        priority=Priority.HIGH,
        reason="Every teacher is blocked.",
    )
    decision = on_command(state, command, ctx_at(context, chicago(8, 9)))
    assert decision.state is not None
    assert decision.state.priority is Priority.HIGH
    assert decision.state.sla is not None
    assert decision.state.sla.first_response.due_at == chicago(8, 12, 30)
    changed, work = _outputs(decision)
    event = PriorityChanged.model_validate(changed)
    assert (event.from_priority, event.to_priority, event.reason) == (
        Priority.MEDIUM,
        Priority.HIGH,
        "Every teacher is blocked.",
    )
    assert WorkItemUpdated.model_validate(work).item.priority is Priority.HIGH


@pytest.mark.parametrize(
    ("case_type", "priority", "refusal"),
    [
        (CaseType.ASK_A_QUESTION, Priority.CRITICAL, "Critical is limited to 'Report an Outage'"),
        (CaseType.ASK_A_QUESTION, Priority.MEDIUM, "is already Medium priority"),
    ],
)
def test_refused_priority_changes_say_why(
    context: Callable[..., Context],
    new_case: Callable[..., Any],
    case_type: CaseType,
    priority: Priority,
    refusal: str,
) -> None:
    """Critical outside outages, and the priority the case has, are refused with the reason."""
    state = _case(context, new_case, case_type)
    command = ChangePriority(case_id=state.case_id, actor=STAFF, priority=priority, reason="why")
    decision = on_command(state, command, context())
    assert decision.state is None
    assert refusal in (decision.reason or "")


def test_an_outage_may_become_critical_and_a_closed_case_keeps_its_priority(
    context: Callable[..., Context], new_case: Callable[..., Any]
) -> None:
    """Report an Outage (Hosting's) goes to Critical; once closed, no priority change."""
    hosting = KELLY.model_copy(update={"departments": [Department.HOSTING]})
    context = functools.partial(context, staff=hosting, assignee=hosting)
    state = _case(context, new_case, CaseType.REPORT_AN_OUTAGE)
    to_critical = ChangePriority(
        case_id=state.case_id, actor=STAFF, priority=Priority.CRITICAL, reason="District down."
    )
    decision = on_command(state, to_critical, context())
    assert decision.state is not None
    assert decision.state.priority is Priority.CRITICAL
    closing = ChangeStatus(case_id=state.case_id, actor=STAFF, to_status=Status.CLOSED)
    closed = on_command(decision.state, closing, context()).state
    assert closed is not None
    assert closed.status is Status.CLOSED
    lower = ChangePriority(case_id=state.case_id, actor=STAFF, priority=Priority.LOW, reason="x")
    refused = on_command(closed, lower, context())
    assert refused.state is None
    assert "a closed case cannot be reprioritised" in (refused.reason or "")


def test_the_queue_filters_by_the_assessment() -> None:
    """Blocked without a workaround, not yet assessed, by disruption: the Mongo filters."""
    campus = Department.CAMPUS_SUPPORT
    blocked = QueueFilter(blocked=True, workaround=False).query(campus)
    assert blocked["triage.daily_functions_blocked"] is True
    assert blocked["triage.workaround_exists"] is False
    assert QueueFilter(triaged=False).query(campus)["triage"] is None
    assert QueueFilter(triaged=True).query(campus)["triage"] == {"$ne": None}
    severe = QueueFilter(disruption=Disruption.SEVERE, defect=True).query(campus)
    assert (severe["triage.disruption"], severe["triage.defect_qualified"]) == ("Severe", True)
    assert "triage" not in QueueFilter().query(campus)
