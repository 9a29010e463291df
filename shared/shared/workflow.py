"""The case status state machine: allowed transitions, who may make each, and what each needs."""

from datetime import datetime
from zoneinfo import ZoneInfo

from shared.commands import is_blank
from shared.enums import ActorKind, CaseType, Priority, Status

CONTACT, STAFF, SYSTEM = ActorKind.CONTACT, ActorKind.STAFF, ActorKind.SYSTEM

REOPEN_WINDOW_DAYS = 60


def priority_allowed(case_type: CaseType, priority: Priority) -> bool:
    """Critical means the product is not operational: only a Report an Outage case has it
    (intake at submission, routing at a priority change, the portal's choices)."""
    return priority is not Priority.CRITICAL or case_type is CaseType.REPORT_AN_OUTAGE


AUTO_CLOSE_BUSINESS_DAYS = 10
DEFAULT_TIME_ZONE = "America/Chicago"

_STAFF = frozenset({STAFF})
_STAFF_OR_SYSTEM = frozenset({STAFF, SYSTEM})
_CONTACT_OR_STAFF = frozenset({CONTACT, STAFF})
_STAFF_WORK = (
    Status.ASSIST_REQUEST,
    Status.PENDING_CUSTOMER_INPUT,
    Status.PENDING_CUSTOMER_VERIFICATION,
    Status.SCHEDULED,
    Status.ASSIGNED_TO_DEVELOPMENT,
)


def _staff_moves(*targets: Status) -> dict[Status, frozenset[ActorKind]]:
    return dict.fromkeys(targets, _STAFF)


TRANSITIONS: dict[Status, dict[Status, frozenset[ActorKind]]] = {
    Status.NEW: {Status.ASSIGNED: _STAFF_OR_SYSTEM, Status.CLOSED: _CONTACT_OR_STAFF},
    Status.ASSIGNED: {**_staff_moves(*_STAFF_WORK), Status.CLOSED: _CONTACT_OR_STAFF},
    Status.ASSIST_REQUEST: {
        **_staff_moves(Status.ASSIGNED, *_STAFF_WORK[1:]),
        Status.CLOSED: _CONTACT_OR_STAFF,
    },
    Status.PENDING_CUSTOMER_INPUT: {
        Status.ASSIGNED: _CONTACT_OR_STAFF,
        **_staff_moves(Status.PENDING_CUSTOMER_VERIFICATION, Status.SCHEDULED),
        Status.CLOSED: _CONTACT_OR_STAFF,
    },
    Status.PENDING_CUSTOMER_VERIFICATION: {
        Status.ASSIGNED: _CONTACT_OR_STAFF,
        **_staff_moves(Status.PENDING_CUSTOMER_INPUT),
        Status.CLOSED: frozenset({CONTACT, STAFF, SYSTEM}),
    },
    Status.SCHEDULED: {
        **_staff_moves(
            Status.ASSIGNED,
            Status.ASSIST_REQUEST,
            Status.PENDING_CUSTOMER_INPUT,
            Status.PENDING_CUSTOMER_VERIFICATION,
        ),
        Status.CLOSED: _CONTACT_OR_STAFF,
    },
    Status.ASSIGNED_TO_DEVELOPMENT: {
        **_staff_moves(Status.AVAILABLE_IN_RELEASE, Status.ASSIGNED),
        Status.CLOSED: _CONTACT_OR_STAFF,
    },
    Status.AVAILABLE_IN_RELEASE: {
        **_staff_moves(Status.PENDING_CUSTOMER_VERIFICATION, Status.ASSIGNED),
        Status.CLOSED: _CONTACT_OR_STAFF,
    },
    Status.CLOSED: {Status.RE_OPENED: _CONTACT_OR_STAFF},
    Status.RE_OPENED: {Status.ASSIGNED: _STAFF_OR_SYSTEM, Status.CLOSED: _CONTACT_OR_STAFF},
}

# What a target status needs written down: the seeds' "written explanation" etc.
REQUIRED_NOTE = {
    Status.PENDING_CUSTOMER_VERIFICATION: "the written explanation of the resolution",
    Status.PENDING_CUSTOMER_INPUT: "what information is needed from the contact",
    Status.RE_OPENED: "additional details for further investigation",
    Status.ASSIGNED_TO_DEVELOPMENT: "the escalation note for the contact",
    Status.AVAILABLE_IN_RELEASE: "the note telling the contact about the fix",
}


class TransitionRefused(Exception):
    """A status change the workflow does not allow; the message says why and what would work."""


def allowed_targets(current: Status, actor: ActorKind) -> list[Status]:
    """Statuses `actor` may move a case in `current` to."""
    return [target for target, who in TRANSITIONS[current].items() if actor in who]


def check_transition(
    current: Status,
    target: Status,
    actor: ActorKind,
    *,
    note: str | None = None,
    development_issue: str | None = None,
    release_name: str | None = None,
) -> None:
    """Raise TransitionRefused unless `actor` may move `current` to `target` with these fields."""
    who = TRANSITIONS[current].get(target)
    if who is None or actor not in who:
        allowed = ", ".join(allowed_targets(current, actor)) or "none"
        raise TransitionRefused(
            f"a {actor} cannot move a case from {current} to {target}; allowed: {allowed}"
        )
    if target in REQUIRED_NOTE and is_blank(note):
        raise TransitionRefused(
            f"note: moving to {target} requires a note that is not blank: {REQUIRED_NOTE[target]}"
        )
    if target is Status.ASSIGNED_TO_DEVELOPMENT and is_blank(development_issue):
        raise TransitionRefused(
            f"development_issue: moving to {target} requires the development issue number"
        )
    if target is Status.AVAILABLE_IN_RELEASE and is_blank(release_name):
        raise TransitionRefused(f"release_name: moving to {target} requires the release name")


def reopen_days_elapsed(closed_at: datetime, now: datetime, time_zone: str) -> int:
    """Calendar days since closing, counted in the district's time zone."""
    zone = ZoneInfo(time_zone)
    return (now.astimezone(zone).date() - closed_at.astimezone(zone).date()).days


def can_reopen(closed_at: datetime, now: datetime, time_zone: str = DEFAULT_TIME_ZONE) -> bool:
    """A closed case reopens through day 60 after closing, and not on day 61."""
    return reopen_days_elapsed(closed_at, now, time_zone) <= REOPEN_WINDOW_DAYS
