"""Staff workspace rules: departments, queue order and filters, workflow controls and bodies."""

import pytest
from portal import staff_logic
from portal.staff_logic import FormProblem, control_by_slug, controls_for, status_body

from shared.enums import Department
from shared.events import StaffMember


def member(departments: list[str], supervisor: bool = False) -> StaffMember:
    """A staff member of these departments."""
    return StaffMember(
        id="staff-x",
        name="Pat Support",
        email="pat.support@vendor.example",
        departments=[Department(d) for d in departments],
        supervisor=supervisor,
    )


def item(number: int, priority: str, created: str, **extra: object) -> dict[str, object]:
    """A queue work item as routing lists it."""
    return {
        "case_number": number,
        "priority": priority,
        "created_at": created,
        "subject": f"Case {number}",
        "status": "New",
        "case_type": "Application Issue",
        **extra,
    }


def test_a_supervisor_works_every_department() -> None:
    """A supervisor's queues are all six departments; a member's only their own."""
    assert len(staff_logic.departments_of(member(["Campus Support"], supervisor=True))) == 6
    own = staff_logic.departments_of(member(["Training", "Campus Support"]))
    assert [d.value for d in own] == ["Campus Support", "Training"]


def test_work_order_is_critical_first_then_oldest() -> None:
    """Critical comes first whatever its age; within a priority the oldest leads."""
    items = [
        item(3, "Medium", "2026-01-01T00:00:00Z"),
        item(1, "Critical", "2026-03-01T00:00:00Z"),
        item(2, "Medium", "2025-12-01T00:00:00Z"),
        item(4, "High", "2026-02-01T00:00:00Z"),
    ]
    assert [i["case_number"] for i in staff_logic.work_order(items)] == [1, 4, 2, 3]


def test_filters_by_case_type_subject_words_and_reply() -> None:
    """Subject words, case type and the customer-replied flag all narrow the queue."""
    items = [
        item(1, "Low", "a", subject="Snow day missing", customer_replied=True),
        item(2, "Low", "b", subject="Snow report", case_type="Ask a Question"),
        item(3, "Low", "c", subject="Grades"),
    ]
    found = staff_logic.filtered(items, {"subject": "snow", "replied": "true"})
    assert [i["case_number"] for i in found] == [1]
    found = staff_logic.filtered(items, {"case_type": "Ask a Question"})
    assert [i["case_number"] for i in found] == [2]


def test_counts_per_status_in_workflow_order() -> None:
    """Counts list each status present, New before Assigned."""
    items = [item(1, "Low", "a", status="Assigned"), item(2, "Low", "b"), item(3, "Low", "c")]
    assert staff_logic.status_counts(items) == [("New", 2), ("Assigned", 1)]


def test_controls_follow_the_state_machine() -> None:
    """From Assigned staff may ask for input, resolve, schedule, escalate, assist or close."""
    labels = [
        c.label for c in controls_for("Assigned", member(["Campus Support"]), "Campus Support")
    ]
    assert labels == [
        "Assist Request",
        "Pending Customer Input",
        "Pending Customer Verification",
        "Scheduled",
        "Assigned to Development",
        "Closed",
    ]
    from_new = controls_for("New", member(["Campus Support"]), "Campus Support")
    assert [c.label for c in from_new] == ["Assigned", "Closed"]


def test_no_controls_outside_ones_departments() -> None:
    """A Training member gets no control on a Campus Support case; a supervisor does."""
    assert controls_for("Assigned", member(["Training"]), "Campus Support") == []
    assert controls_for("Assigned", member(["Training"], True), "Campus Support") != []


def test_status_bodies_carry_what_each_move_needs() -> None:
    """Scheduled writes the date into the note; escalation needs the issue number."""
    scheduled = control_by_slug("scheduled")
    assert scheduled is not None
    body = status_body(scheduled, {"scheduled_for": "2026-12-07", "note": "Onsite visit"})
    assert body == {"to_status": "Scheduled", "note": "Scheduled for 2026-12-07. Onsite visit"}
    escalate = control_by_slug("assigned-to-development")
    assert escalate is not None
    with pytest.raises(FormProblem, match="development issue"):
        status_body(escalate, {"note": "Sent to development"})


def test_a_question_is_required_for_pending_customer_input() -> None:
    """Pending Customer Input without the question is refused before routing is asked."""
    ask = control_by_slug("pending-customer-input")
    assert ask is not None
    with pytest.raises(FormProblem, match="question"):
        status_body(ask, {"note": "  "})


def test_sorting_by_a_column_and_flipping_it() -> None:
    """Sorting by number flips on the second click; aria-sort names the direction."""
    items = [item(2, "Low", "a"), item(1, "Critical", "b"), item(3, "High", "c")]
    ascending = staff_logic.sorted_items(items, {"sort": "number", "order": "asc"})
    assert [i["case_number"] for i in ascending] == [1, 2, 3]
    link = staff_logic.sort_link("campus-support", {"sort": "number", "order": "asc"}, "number")
    assert link == "/staff/queues/campus-support?sort=number&order=desc"
    assert staff_logic.aria_sort({"sort": "number", "order": "desc"}, "number") == "descending"
    assert staff_logic.aria_sort({"sort": "number"}, "subject") == ""
