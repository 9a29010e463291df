"""Pure rules of the staff workspace: departments, queue order and filters, workflow controls."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from portal.logic import priorities_for
from shared.enums import (
    ActorKind,
    CaseType,
    Department,
    Disruption,
    NoticeKind,
    NoticeStatus,
    Priority,
    Status,
)
from shared.events import StaffMember
from shared.workflow import allowed_targets

Json = dict[str, Any]

# Re-exported for the templates; priorities_for is the contact portal's rule of choices.
__all__ = [
    "CaseType", "Department", "Disruption", "NoticeStatus", "Priority", "Status", "priorities_for"
]  # fmt: skip
# The statuses an incident moves through while open (Resolved is the resolve action's).
INCIDENT_STATUSES = [NoticeStatus.INVESTIGATING, NoticeStatus.IDENTIFIED, NoticeStatus.MONITORING]
QUEUE_FILTERS = (
    "status", "priority", "case_type", "subject", "assignee", "replied", "impact", "disruption"
)  # fmt: skip
# The queue's impact filter: its choices, and what each asks routing for.
IMPACTS: dict[str, tuple[str, dict[str, str]]] = {
    "blocked": ("Blocked, no workaround", {"blocked": "true", "workaround": "false"}),
    "defect": ("Qualified defects", {"defect": "true"}),
    "untriaged": ("Not assessed yet", {"triaged": "false"}),
}
# The assessment's yes/no questions: form field, the seeds' words, and the routing field.
TRIAGE_QUESTIONS = (
    ("blocked", "Daily functions cannot be performed", "daily_functions_blocked"),
    ("workaround", "A viable workaround exists", "workaround_exists"),
    ("sites", "Several schools or districts are affected", "several_sites"),
    ("users", "Several users are directly impacted", "several_users"),
)
QUEUE_SORTS = ("work", "number", "subject", "priority", "status", "last_activity")
PAGE_SIZES = (10, 20, 50, 100, 200)  # the contact list's; 200 is routing's page limit
QUEUE_PAGE_SIZE = 50
MAX_PAGE = 100_000


@dataclass(frozen=True)
class Control:
    """One workflow move a staff case page offers, with the inputs that move needs."""

    target: Status
    slug: str
    label: str
    note: str  # "" no note, "optional" or "required"
    note_label: str
    needs_date: bool = False
    needs_issue: bool = False
    needs_release: bool = False


# What each move asks for on the page; routing checks the same before it accepts.
_CONTROLS = {
    Status.ASSIGNED: Control(Status.ASSIGNED, "assigned", "Assigned", "optional", "Note"),
    Status.ASSIST_REQUEST: Control(
        Status.ASSIST_REQUEST, "assist-request", "Assist Request", "optional", "What help is needed"
    ),
    Status.PENDING_CUSTOMER_INPUT: Control(
        Status.PENDING_CUSTOMER_INPUT,
        "pending-customer-input",
        "Pending Customer Input",
        "required",
        "The question for the contact",
    ),
    Status.PENDING_CUSTOMER_VERIFICATION: Control(
        Status.PENDING_CUSTOMER_VERIFICATION,
        "pending-customer-verification",
        "Pending Customer Verification",
        "required",
        "The written resolution (the contact sees it)",
    ),
    Status.SCHEDULED: Control(
        Status.SCHEDULED, "scheduled", "Scheduled", "optional", "Note", needs_date=True
    ),
    Status.ASSIGNED_TO_DEVELOPMENT: Control(
        Status.ASSIGNED_TO_DEVELOPMENT,
        "assigned-to-development",
        "Assigned to Development",
        "required",
        "The escalation note for the contact",
        needs_issue=True,
    ),
    Status.AVAILABLE_IN_RELEASE: Control(
        Status.AVAILABLE_IN_RELEASE,
        "available-in-release",
        "Available in Release",
        "required",
        "The note telling the contact about the fix",
        needs_release=True,
    ),
    Status.CLOSED: Control(Status.CLOSED, "closed", "Closed", "optional", "Closing note"),
}


def departments_of(member: StaffMember) -> list[Department]:
    """The queues a staff member works: all for a supervisor, else their own, in enum order."""
    if member.supervisor:
        return list(Department)
    return [d for d in Department if d in member.departments]


def may_work(member: StaffMember, department: str) -> bool:
    """Whether the member acts on a case of this department (by its name)."""
    try:
        return member.acts_for(Department(department))
    except ValueError:
        return False


def controls_for(status: str, member: StaffMember, department: str) -> list[Control]:
    """The moves the state machine allows a staff member from `status`, none outside their
    departments."""
    if not may_work(member, department):
        return []
    return [_CONTROLS[t] for t in allowed_targets(Status(status), ActorKind.STAFF)]


def control_by_slug(slug: str) -> Control | None:
    """The control of a status slug, e.g. `pending-customer-input`."""
    return next((c for c in _CONTROLS.values() if c.slug == slug), None)


class FormProblem(ValueError):
    """A staff form misses what its move needs; the message says what to fill in."""


def status_body(control: Control, form: Mapping[str, str]) -> Json:
    """The body of routing's status change for a control's form."""
    note = form.get("note", "").strip()
    if control.note == "required" and not note:
        raise FormProblem(f"{control.label} needs {control.note_label.lower()}.")
    body: Json = {"to_status": control.target.value}
    if control.needs_date:
        when = _date(form.get("scheduled_for", ""))
        note = f"Scheduled for {when.isoformat()}." + (f" {note}" if note else "")
    if control.needs_issue:
        body["development_issue"] = _required(form, "development_issue", "the development issue")
    if control.needs_release:
        body["release_name"] = _required(form, "release_name", "the release")
    if note:
        body["note"] = note
    return body


def triage_body(form: Mapping[str, str]) -> Json:
    """Routing's impact assessment from the triage form (a checkbox present means yes)."""
    disruption = form.get("disruption", "")
    if disruption not in {d.value for d in Disruption}:
        raise FormProblem("Choose the level of disruption to the customer's workflow.")
    body: Json = {"disruption": disruption}
    body |= {field: form.get(name) == "yes" for name, _, field in TRIAGE_QUESTIONS}
    if form.get("defect") == "yes":
        body["defect_qualified"] = True
        body["development_issue"] = _required(
            form, "development_issue", "the development issue number of the qualified defect"
        )
    return body


def priority_body(form: Mapping[str, str], case_type: str) -> Json:
    """Routing's priority change from the form: a priority the case may have, and a reason."""
    allowed = priorities_for(case_type)
    priority = form.get("priority", "")
    if priority not in allowed:
        raise FormProblem(f"Choose one of {', '.join(allowed)}.")
    return {"priority": priority, "reason": _required(form, "reason", "why the priority changes")}


def _date(raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise FormProblem("Scheduled needs the date, as YYYY-MM-DD.") from None


def _required(form: Mapping[str, str], name: str, what: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise FormProblem(f"Enter {what}.")
    return value


# --- queues ------------------------------------------------------------------------------


def queue_query(params: Mapping[str, str]) -> dict[str, str]:
    """The queue's query as the URL holds it: only known, non-blank parameters."""
    keep = {*QUEUE_FILTERS, "sort", "order", "page", "page_size"}
    return {k: v.strip() for k, v in params.items() if k in keep and v.strip()}


@dataclass(frozen=True)
class QueuePage:
    """Which page of the queue is shown, and how many items a page holds."""

    number: int
    size: int

    @property
    def offset(self) -> int:
        """Items before this page."""
        return (self.number - 1) * self.size


def queue_page(query: Mapping[str, str]) -> QueuePage:
    """The page the query asks for (the first, 50 items, by default); bad values refused."""
    size, number = query.get("page_size", str(QUEUE_PAGE_SIZE)), query.get("page", "1")
    if size not in {str(n) for n in PAGE_SIZES}:
        raise FormProblem(f"Page Size must be one of {', '.join(map(str, PAGE_SIZES))}.")
    if not number.isdigit() or not 1 <= int(number) <= MAX_PAGE:
        raise FormProblem(f"Page must be a whole number from 1 to {MAX_PAGE}.")
    return QueuePage(int(number), int(size))


def filter_params(query: Mapping[str, str]) -> dict[str, str]:
    """Routing's filter parameters for a queue query: routing filters and counts them all."""
    names = ("status", "priority", "case_type", "subject")
    params = {name: query[name] for name in names if name in query}
    if query.get("replied") == "true":
        params["customer_replied"] = "true"
    if query.get("assignee") == "none":
        params["unassigned"] = "true"
    elif "assignee" in query:
        params["assignee"] = query["assignee"]
    if query.get("impact") in IMPACTS:
        params.update(IMPACTS[query["impact"]][1])
    if "disruption" in query:
        params["disruption"] = query["disruption"]
    return params


def routing_params(query: Mapping[str, str], page: QueuePage) -> dict[str, str]:
    """Routing's parameters for one page of the queue: filters, sort and the page."""
    params = filter_params(query)
    sort, order = query.get("sort", "work"), query.get("order", "asc")
    if sort in QUEUE_SORTS:
        params["sort"] = sort
        # Last activity reads newest first on the first click.
        flip = sort == "last_activity"
        params["order"] = ("asc" if order == "desc" else "desc") if flip else order
    return {**params, "limit": str(page.size), "offset": str(page.offset)}


def page_count(total: int, size: int) -> int:
    """Pages needed for `total` items (one page when there are none)."""
    return max(1, -(-total // size))


def sort_link(slug: str, query: Mapping[str, str], key: str) -> str:
    """The queue URL sorted by `key`; the current column flips its order."""
    order = "asc"
    if query.get("sort", "work") == key and query.get("order", "asc") == "asc":
        order = "desc"
    kept = {k: v for k, v in query.items() if k not in ("sort", "order", "page")}
    return f"/staff/queues/{slug}?" + urlencode({**kept, "sort": key, "order": order})


def aria_sort(query: Mapping[str, str], key: str) -> str:
    """The column's aria-sort: ascending or descending when the queue is sorted by it."""
    if query.get("sort") != key:
        return ""
    return "descending" if query.get("order") == "desc" else "ascending"


def actor_name(actor: Json | None) -> str:
    """Who made an activity, as the queue shows it."""
    if not actor:
        return ""
    return str(actor.get("name") or actor.get("id") or "")


# Who reads a staff post, as the "Share an update" form offers it, and what is done after it.
POSTED = {"public": "Posted", "internal": "Internal note added"}


def done_message(done: str) -> str:
    """The confirmation a case page shows after a redirect: only the portal's own words."""
    known = {c.label for c in _CONTROLS.values()} | {"Assigned by policy", *POSTED.values()}
    known |= {f"Transferred to {d.value}" for d in Department}
    known |= {"Impact assessment recorded", *(f"Priority set to {p.value}" for p in Priority)}
    known |= {"Incident opened", "Maintenance announced", "Update posted", "Notice closed"}
    known |= set(LINK_DONE)
    return done if done in known else ""


# --- status-board notices --------------------------------------------------------------------


CLOSED_NOTICES = frozenset({NoticeStatus.RESOLVED.value, NoticeStatus.COMPLETED.value})


def may_manage_notices(member: StaffMember) -> bool:
    """Who opens, updates and resolves status-board notices from the workspace: supervisors
    and Hosting / Technical Support staff (they run the hosted systems the notices are about)."""
    return member.supervisor or Department.HOSTING in member.departments


def notices_in_order(notices: Iterable[Json]) -> list[Json]:
    """Open notices first, then closed; the newest start first within each."""
    by_start = sorted(notices, key=lambda n: str(n.get("starts_at", "")), reverse=True)
    return sorted(by_start, key=lambda n: n.get("status") in CLOSED_NOTICES)


def incident_body(form: Mapping[str, str]) -> Json:
    """The board's incident from the form: title, what is known, status, districts."""
    status = form.get("status", NoticeStatus.INVESTIGATING.value)
    if status not in {s.value for s in INCIDENT_STATUSES}:
        raise FormProblem("Choose Investigating, Identified or Monitoring.")
    return {
        "title": _required(form, "title", "a title"),
        "body": _required(form, "body", "what is known so far"),
        "status": status,
        "affected_account_ids": _districts(form),
    }


def maintenance_body(form: Mapping[str, str], zone: str) -> Json:
    """The board's maintenance from the form; the times are read in the staff's zone."""
    starts, ends = _moment(form, "starts_at", zone), _moment(form, "ends_at", zone)
    if ends <= starts:
        raise FormProblem("The maintenance must end after it starts.")
    return {
        "title": _required(form, "title", "a title"),
        "body": _required(form, "body", "what the maintenance does and what users will notice"),
        "starts_at": starts.isoformat(),
        "ends_at": ends.isoformat(),
        "affected_account_ids": _districts(form),
    }


def update_body(form: Mapping[str, str], kind: str) -> Json:
    """A timestamped update, moving an incident's status when one is chosen."""
    body: Json = {"body": _required(form, "body", "the update")}
    status = form.get("status", "")
    if status and kind == NoticeKind.INCIDENT.value:
        if status not in {s.value for s in INCIDENT_STATUSES}:
            raise FormProblem("Choose Investigating, Identified or Monitoring.")
        body["status"] = status
    return body


def _districts(form: Mapping[str, str]) -> list[str]:
    """Account ids, comma or space separated; none means every district."""
    raw = form.get("districts", "").replace(",", " ").split()
    return list(dict.fromkeys(raw))


def _moment(form: Mapping[str, str], name: str, zone: str) -> datetime:
    raw = form.get(name, "").strip()
    try:
        naive = datetime.fromisoformat(raw)
    except ValueError:
        what = "start" if name == "starts_at" else "end"
        raise FormProblem(f"Enter the {what} as a date and time (YYYY-MM-DD HH:MM).") from None
    return naive.replace(tzinfo=ZoneInfo(zone)) if naive.tzinfo is None else naive


# --- cases linked to incidents ----------------------------------------------------------------

LINK_DONE = ("Linked to the incident", "Unlinked from the incident")


def open_incidents(notices: Iterable[Json], account_id: str) -> list[Json]:
    """The board's open incidents that concern a district (those naming no district concern
    every district), newest first."""
    found = [
        n
        for n in notices
        if n.get("kind") == "incident"
        and n.get("status") not in CLOSED_NOTICES
        and (not n.get("affected_account_ids") or account_id in n["affected_account_ids"])
    ]
    return sorted(found, key=lambda n: str(n.get("starts_at", "")), reverse=True)


def suggested_incident(
    case_type: str, status: str, open_ones: list[Json], linked: Iterable[str]
) -> Json | None:
    """The incident to suggest linking a case to: a Report an Outage case, still open, during
    an open incident of its district (the newest), while it is linked to none of the open
    ones. Once linked, other open incidents stay offered in the link list, not suggested: an
    outage report is one outage."""
    if case_type != CaseType.REPORT_AN_OUTAGE.value or status == Status.CLOSED.value:
        return None
    already = set(linked)
    if any(n.get("id") in already for n in open_ones):
        return None
    return next(iter(open_ones), None)


def resolvable(status: str) -> bool:
    """Whether "resolve all linked cases" moves a case: not Closed, not already awaiting the
    contact's verification."""
    return status not in (Status.CLOSED.value, Status.PENDING_CUSTOMER_VERIFICATION.value)
