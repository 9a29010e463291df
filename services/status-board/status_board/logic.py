"""Pure decisions of the status board: banner colour, tabs, revisions and the maintenance clock."""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from shared.enums import NoticeKind, NoticeStatus
from shared.events import (
    AnyNoticeEvent,
    Notice,
    NoticePublished,
    NoticeResolved,
    NoticeUpdate,
    NoticeUpdated,
)
from shared.notices import leading_notice
from status_board.errors import ChangeRejected

INCIDENT_STATUSES = frozenset(
    {
        NoticeStatus.INVESTIGATING,
        NoticeStatus.IDENTIFIED,
        NoticeStatus.MONITORING,
        NoticeStatus.RESOLVED,
    }
)
MAINTENANCE_STATUSES = frozenset(
    {NoticeStatus.SCHEDULED, NoticeStatus.IN_PROGRESS, NoticeStatus.COMPLETED}
)
_EVENT_IDS = uuid5(NAMESPACE_URL, "urn:support-portal:status-board:maintenance-clock")


class Tab(StrEnum):
    """The two tabs of the notifications page."""

    OPEN = "open"
    CLOSED = "closed"


class BannerState(StrEnum):
    """What the portal banner says; the colour follows from it."""

    INCIDENT = "incident"
    MAINTENANCE = "maintenance"
    CLEAR = "clear"
    UNKNOWN = "unknown"


BANNER_COLOURS = {
    BannerState.INCIDENT: "orange",
    BannerState.MAINTENANCE: "green",
    BannerState.CLEAR: "gray",
    BannerState.UNKNOWN: "yellow",
}
BANNER_LABELS = {
    BannerState.INCIDENT: "Incident in progress",
    BannerState.MAINTENANCE: "Scheduled maintenance",
    BannerState.CLEAR: "No open notifications",
    BannerState.UNKNOWN: "Status unknown",
}


@dataclass(frozen=True)
class Banner:
    """The banner decision: state, colour, label and the counts behind it."""

    state: BannerState
    incidents: int
    maintenance: int
    stale: bool
    maintenance_running: bool = False

    @property
    def colour(self) -> str:
        """Orange for incidents, green for maintenance, gray when clear, yellow when unknown."""
        return BANNER_COLOURS[self.state]

    @property
    def label(self) -> str:
        """The text that says what the colour says."""
        if self.state is BannerState.MAINTENANCE and self.maintenance_running:
            return "Maintenance in progress"
        return BANNER_LABELS[self.state]


def is_stale(last_heard: datetime | None, now: datetime, stale_after: timedelta) -> bool:
    """Live updates are delayed when Kafka was never heard from or not for `stale_after`."""
    return last_heard is None or now - last_heard > stale_after


def banner(notices: Iterable[Notice], *, known: bool, stale: bool) -> Banner:
    """Incident beats maintenance beats clear; with nothing ever received the status is unknown."""
    open_now = [notice for notice in notices if notice.status.is_open]
    incidents = sum(1 for notice in open_now if notice.kind is NoticeKind.INCIDENT)
    maintenance = len(open_now) - incidents
    lead = leading_notice(open_now)
    if lead is None:
        state = BannerState.CLEAR if known else BannerState.UNKNOWN
    elif lead.kind is NoticeKind.INCIDENT:
        state = BannerState.INCIDENT
    else:
        state = BannerState.MAINTENANCE
    running = any(notice.status is NoticeStatus.IN_PROGRESS for notice in open_now)
    return Banner(state, incidents, maintenance, stale, running)


def is_public(notice: Notice) -> bool:
    """Public notices are for everyone; a notice aimed at districts is for those districts only.

    District notices reach their districts through the portal banner and mail, never through
    the board's public page, Atom feed, JSON or banner.
    """
    return not notice.affected_account_ids


def on_tab(notices: Iterable[Notice], tab: Tab, limit: int) -> list[Notice]:
    """Open: incidents newest first, then maintenance soonest first. Closed: latest end first."""
    if tab is Tab.OPEN:
        chosen = [notice for notice in notices if notice.status.is_open]
        incidents = sorted(
            (n for n in chosen if n.kind is NoticeKind.INCIDENT), key=lambda n: n.starts_at
        )
        planned = sorted(
            (n for n in chosen if n.kind is NoticeKind.MAINTENANCE), key=lambda n: n.starts_at
        )
        return [*reversed(incidents), *planned]
    closed = [notice for notice in notices if not notice.status.is_open]
    return sorted(closed, key=lambda n: n.ends_at or n.starts_at, reverse=True)[:limit]


def check_status(kind: NoticeKind, status: NoticeStatus) -> None:
    """Incidents investigate to resolution; maintenance runs Scheduled → In Progress → Completed."""
    allowed = INCIDENT_STATUSES if kind is NoticeKind.INCIDENT else MAINTENANCE_STATUSES
    if status not in allowed:
        names = ", ".join(sorted(allowed))
        raise ChangeRejected(f"a {kind} cannot be {status!r}; use one of: {names}")


def check_times(starts_at: datetime, ends_at: datetime | None) -> None:
    """An end time, when given, is not before the start."""
    if ends_at is not None and ends_at < starts_at:
        raise ChangeRejected("ends_at must not be before starts_at")


def closing_status(kind: NoticeKind) -> NoticeStatus:
    """Resolved for incidents, Completed for maintenance."""
    return NoticeStatus.RESOLVED if kind is NoticeKind.INCIDENT else NoticeStatus.COMPLETED


CLOSING_TEXT = {
    NoticeKind.INCIDENT: "This incident is resolved.",
    NoticeKind.MAINTENANCE: "Maintenance is complete.",
}


def closing_update(notice: Notice, at: datetime, body: str | None) -> NoticeUpdate:
    """The update that resolves an incident or completes maintenance; refused once closed."""
    if not notice.status.is_open:
        raise ChangeRejected(f"notice {notice.id!r} is already {notice.status}")
    return NoticeUpdate(
        at=at, status=closing_status(notice.kind), body=body or CLOSING_TEXT[notice.kind]
    )


def scheduled_status(starts_at: datetime, ends_at: datetime | None, now: datetime) -> NoticeStatus:
    """Where maintenance stands on its schedule at `now`."""
    if ends_at is not None and now >= ends_at:
        return NoticeStatus.COMPLETED
    return NoticeStatus.IN_PROGRESS if now >= starts_at else NoticeStatus.SCHEDULED


def revised(notice: Notice, **changes: object) -> Notice:
    """The notice with `changes` applied, validated, at the next revision."""
    data = notice.model_dump() | changes | {"revision": notice.revision + 1}
    new = Notice.model_validate(data)
    check_status(new.kind, new.status)
    check_times(new.starts_at, new.ends_at)
    return new


def with_update(notice: Notice, update: NoticeUpdate) -> Notice:
    """Post a timestamped update (newest first); it sets the status and closes when final."""
    updates = sorted([update, *notice.updates], key=lambda u: u.at, reverse=True)
    ends_at = _end_after(notice, update)
    return revised(notice, status=update.status, ends_at=ends_at, updates=updates)


def _end_after(notice: Notice, update: NoticeUpdate) -> datetime | None:
    """A final update ends the notice (not before its start); reopening an incident unends it."""
    if update.status.is_open:
        return None if notice.kind is NoticeKind.INCIDENT else notice.ends_at
    if notice.ends_at is not None and notice.ends_at <= update.at:
        return notice.ends_at
    return max(update.at, notice.starts_at)


def event_for(previous: Notice | None, notice: Notice) -> AnyNoticeEvent:
    """Published for a new notice, Resolved when it closes, Updated otherwise."""
    if previous is None:
        return NoticePublished(notice=notice)
    if previous.status.is_open and not notice.status.is_open:
        return NoticeResolved(notice=notice)
    return NoticeUpdated(notice=notice)


_CLOCK_TEXT = {
    NoticeStatus.IN_PROGRESS: "Maintenance has started.",
    NoticeStatus.COMPLETED: "Maintenance is complete.",
}


def maintenance_due(notice: Notice, now: datetime) -> AnyNoticeEvent | None:
    """The event that moves maintenance along its schedule, or None when nothing is due.

    It is deterministic (time, text and event id follow from the notice), so replicas that
    make the same move publish the same event and consumers dedupe it on event_id.
    """
    if notice.kind is not NoticeKind.MAINTENANCE or not notice.status.is_open:
        return None
    target = scheduled_status(notice.starts_at, notice.ends_at, now)
    if target == notice.status or target is NoticeStatus.SCHEDULED:
        return None
    at = (notice.ends_at or now) if target is NoticeStatus.COMPLETED else notice.starts_at
    new = with_update(notice, NoticeUpdate(at=at, status=target, body=_CLOCK_TEXT[target]))
    event_id = clock_event_id(new)
    if target is NoticeStatus.COMPLETED:
        return NoticeResolved(event_id=event_id, occurred_at=at, notice=new)
    return NoticeUpdated(event_id=event_id, occurred_at=at, notice=new)


def clock_event_id(notice: Notice) -> UUID:
    """The fixed event id of an automatic maintenance move."""
    return uuid5(_EVENT_IDS, f"{notice.id}:{notice.revision}:{notice.status}")


# --- what the board accepts and what it can show -------------------------------------------

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
HORIZON = timedelta(days=3653)  # ten years
MAX_UPDATES = 100
MAX_EVENT_BYTES = 512 * 1024  # half of Kafka's default 1 MiB message limit
# C0 and C1 controls, DEL, lone surrogates and the two non-characters XML 1.0 cannot carry.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = frozenset("\t\n\r")
# What XML 1.0 cannot carry, of all that a Python str can hold.
_XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def window_error(at: datetime, now: datetime) -> str | None:
    """Why a time given to the admin API is not plausible for a notice, or None.

    From 2000-01-01 to ten years ahead: anything else is a typo or an epoch 0, and times
    near the ends of the calendar cannot even be shown in the board's time zone.
    """
    latest = (now + HORIZON).replace(microsecond=0)
    if EARLIEST <= at <= latest:
        return None
    return (
        f"must be between {stamp(EARLIEST)} and ten years from now ({stamp(latest)}),"
        f" not {at.isoformat()}"
    )


def control_error(text: str, *, one_line: bool) -> str | None:
    """Why a text holds characters a notice must not carry (controls), or None.

    Bodies may hold tabs and line breaks; titles are one line and may not.
    """
    for found in _CONTROL.finditer(text):
        char = found.group()
        if one_line or char not in _LINE_BREAKS:
            where = f"U+{ord(char):04X} at position {found.start()}"
            hint = "; a title is one line" if char in _LINE_BREAKS else ""
            return f"must not contain control characters ({where}{hint}); remove it"
    return None


def xml_text(text: str) -> str:
    """The text without the characters XML 1.0 cannot carry (held notices may still have them)."""
    return _XML_INVALID.sub("", text)


def unshowable(notice: Notice, zone: tzinfo) -> str | None:
    """Why the board cannot show this notice at all, or None when it can.

    A time at the very ends of the calendar cannot be converted to UTC or to the board's
    zone; a lone surrogate cannot be encoded. Such a notice (held from before these rules,
    or received from Kafka) is set aside instead of taking the whole board down.
    """
    for name, at in _times(notice):
        try:
            at.astimezone(UTC)
            at.astimezone(zone)
        except (OverflowError, ValueError):
            return f"{name} {at.isoformat()} cannot be shown in UTC and {zone}"
    for name, text in _texts(notice):
        try:
            text.encode()
        except UnicodeEncodeError:
            return f"{name} is not valid Unicode text"
    return None


def unshowable_event(event: AnyNoticeEvent, zone: tzinfo) -> str | None:
    """Why the board cannot show a notice event read from Kafka, or None when it can."""
    problem = unshowable(event.notice, zone)
    try:
        event.occurred_at.astimezone(UTC)
    except OverflowError:
        problem = f"occurred_at {event.occurred_at.isoformat()} cannot be shown in UTC"
    return problem


def _times(notice: Notice) -> Iterator[tuple[str, datetime]]:
    yield "starts_at", notice.starts_at
    if notice.ends_at is not None:
        yield "ends_at", notice.ends_at
    for index, update in enumerate(notice.updates):
        yield f"updates[{index}].at", update.at


def _texts(notice: Notice) -> Iterator[tuple[str, str]]:
    yield "id", notice.id
    yield "title", notice.title
    yield "body", notice.body
    for index, update in enumerate(notice.updates):
        yield f"updates[{index}].body", update.body
    for index, account in enumerate(notice.affected_account_ids):
        yield f"affected_account_ids[{index}]", account


def check_limits(notice: Notice) -> None:
    """A notice holds at most MAX_UPDATES updates (the size limit is checked on its event)."""
    if len(notice.updates) > MAX_UPDATES:
        raise ChangeRejected(
            f"updates: a notice holds at most {MAX_UPDATES} updates; close this one"
            " (PATCH status and ends_at) and open a new notice to go on"
        )


def check_size(payload: bytes) -> None:
    """The event of a change fits Kafka with room to spare (MAX_EVENT_BYTES)."""
    if len(payload) > MAX_EVENT_BYTES:
        raise ChangeRejected(
            f"the notice would take {len(payload):,} bytes as an event, over the limit of"
            f" {MAX_EVENT_BYTES:,} bytes; shorten its body or updates, or open a new notice"
        )


def stamp(at: datetime) -> str:
    """RFC 3339 in UTC with a Z, as Atom and error messages show times."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
