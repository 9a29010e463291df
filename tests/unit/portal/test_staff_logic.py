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


def test_a_supervisor_works_every_department() -> None:
    """A supervisor's queues are all six departments; a member's only their own."""
    assert len(staff_logic.departments_of(member(["Campus Support"], supervisor=True))) == 6
    own = staff_logic.departments_of(member(["Training", "Campus Support"]))
    assert [d.value for d in own] == ["Campus Support", "Training"]


def test_every_filter_goes_to_routing() -> None:
    """Case type, subject words and "customer replied" are routing's filters now, beside
    status, priority, assignee and the assessment; the counts get the same ones."""
    query = {
        "case_type": "Ask a Question",
        "subject": "snow day",
        "replied": "true",
        "assignee": "none",
        "impact": "blocked",
        "status": "New",
    }
    assert staff_logic.filter_params(query) == {
        "status": "New",
        "case_type": "Ask a Question",
        "subject": "snow day",
        "customer_replied": "true",
        "unassigned": "true",
        "blocked": "true",
        "workaround": "false",
    }
    assert staff_logic.filter_params({"assignee": "staff-support"}) == {"assignee": "staff-support"}


def test_a_page_of_the_queue_is_a_limit_and_an_offset() -> None:
    """Page 3 of 20 skips 40; the default is the first page of 50 in work order."""
    page = staff_logic.queue_page({"page": "3", "page_size": "20"})
    params = staff_logic.routing_params({"sort": "number", "order": "desc"}, page)
    assert params == {"sort": "number", "order": "desc", "limit": "20", "offset": "40"}
    first = staff_logic.routing_params({}, staff_logic.queue_page({}))
    assert first == {"sort": "work", "order": "asc", "limit": "50", "offset": "0"}
    assert [staff_logic.page_count(n, 50) for n in (0, 50, 51, 10_000)] == [1, 1, 2, 200]


def test_last_activity_sorts_newest_first_on_the_first_click() -> None:
    """The column's ascending click asks routing for the latest activity first."""
    page = staff_logic.queue_page({})
    params = staff_logic.routing_params({"sort": "last_activity", "order": "asc"}, page)
    assert (params["sort"], params["order"]) == ("last_activity", "desc")


@pytest.mark.parametrize(
    "query", [{"page_size": "7"}, {"page": "0"}, {"page": "two"}, {"page": "100001"}]
)
def test_bad_pages_are_refused_with_the_allowed_values(query: dict[str, str]) -> None:
    """A page size off the list or a page that is no whole number from 1 is refused."""
    with pytest.raises(FormProblem, match="Page"):
        staff_logic.queue_page(query)


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
    """Sorting by number flips on the second click, back on the first page; aria-sort names
    the direction."""
    query = {"sort": "number", "order": "asc", "page": "4"}
    link = staff_logic.sort_link("campus-support", query, "number")
    assert link == "/staff/queues/campus-support?sort=number&order=desc"
    assert staff_logic.aria_sort({"sort": "number", "order": "desc"}, "number") == "descending"
    assert staff_logic.aria_sort({"sort": "number"}, "subject") == ""
