"""Pure decisions of the feed: case changes, feed wording, list queries and the banner."""

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from shared.cases import module_of
from shared.enums import ActorKind, Priority, Status, Visibility
from shared.events import (
    Account,
    AnyCaseEvent,
    AttachmentAdded,
    CaseAssigned,
    CaseFollowedUp,
    CaseRouted,
    CaseSubmitted,
    CommandRejected,
    Contact,
    IncidentLinked,
    LinkedIncidentResolved,
    Notice,
    PostAdded,
    PriorityChanged,
    RecipientsChanged,
    StatusChanged,
)
from shared.messages import Actor, AttachmentRef
from shared.notices import leading_notice
from shared.zones import DEFAULT_TIME_ZONE, zone_info

Doc = dict[str, Any]
ROLES = {ActorKind.CONTACT: "Customer", ActorKind.STAFF: "Support", ActorKind.SYSTEM: "System"}
SYSTEM_ACTOR: Doc = {"kind": "system", "id": "system", "name": "Support Portal"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- case changes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseChange:
    """What one event does to a case document, as update operators both paths apply."""

    set: Doc = field(default_factory=dict)
    set_on_insert: Doc = field(default_factory=dict)
    max: Doc = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    add_to_set: Doc = field(default_factory=dict)

    def update(self, event_id: str) -> Doc:
        """The MongoDB update; the event id is recorded so a redelivery is not reapplied."""
        ops: Doc = {"$push": {"applied": event_id}}
        for op, value in (("$set", self.set), ("$setOnInsert", self.set_on_insert)):
            if value:
                ops[op] = value
        if self.max:
            ops["$max"] = self.max
        if self.unset:
            ops["$unset"] = dict.fromkeys(self.unset, "")
        if self.add_to_set:
            ops["$addToSet"] = self.add_to_set
        return ops

    def apply(self, doc: Doc | None, case_id: str, event_id: str) -> Doc:
        """The same update applied in memory (the rebuild folds events this way)."""
        out = {"_id": case_id, "applied": [], **self.set_on_insert} if doc is None else dict(doc)
        out.update(self.set)
        for key, value in self.max.items():
            out[key] = value if out.get(key) is None else max(out[key], value)
        for key in self.unset:
            out.pop(key, None)
        for key, value in self.add_to_set.items():
            out[key] = [*out.get(key, []), value] if value not in out.get(key, []) else out[key]
        out["applied"] = [*out.get("applied", []), event_id]
        # The grams moved to `subjects`: a case stored with them drops them on its next write.
        out.pop("subject_grams", None)
        return out


def out_of_order(applied: list[str], replayed: int, late: list[str]) -> bool:
    """Whether a case's ledger, past its `replayed` events, breaks the topic order of its
    `late` events: applied out of their order, or after an event that follows them."""
    tail = applied[replayed:]
    wanted = set(late)
    seen = [e for e in tail if e in wanted]
    in_tail = set(tail)
    if seen != [e for e in dict.fromkeys(late) if e in in_tail]:
        return True
    last = max((i for i, e in enumerate(tail) if e in wanted), default=-1)
    return any(e not in wanted for e in tail[:last])


def submission_names(event: CaseSubmitted, account: Account | None, contact: Contact | None) -> Doc:
    """Account and contact names of a submission, from the directory when it knows them."""
    name = contact.display_name if contact else None
    if name is None and event.submitted_by.id == event.contact_id:
        name = event.submitted_by.name
    return {"account_name": account.name if account else None, "contact_name": name}


def owner_of_department(department: str) -> Doc:
    """A department queue as the case owner."""
    return {"kind": "department", "name": department, "department": department}


def change_for(event: AnyCaseEvent, names: Doc | None = None) -> CaseChange:
    """The case change an event causes; `names` holds account/contact names for submissions."""
    match event:
        case CaseSubmitted():
            return _submitted(event, names or {})
        case CaseRouted():
            owner = owner_of_department(event.department.value)
            return _modified(event, event.actor, {"owner": owner, "billable": event.billable})
        case CaseAssigned():
            owner = owner_of_department(event.department.value)
            if event.assignee is not None:
                owner = {**owner, "kind": "staff", "name": event.assignee.name}
                owner["staff_id"] = event.assignee.id
            return _modified(event, event.actor, {"owner": owner})
        case StatusChanged():
            return _status_changed(event)
        case PostAdded() if event.visibility is Visibility.INTERNAL:
            return CaseChange()  # an internal note is no Last Modified a contact could see
        case PostAdded():
            return _modified(event, event.author, {})
        case AttachmentAdded():
            return _attachment(event)
        case RecipientsChanged():
            return _modified(event, event.actor, {"recipients": event.recipients})
        case CaseFollowedUp():
            return _modified(event, None, {"auto_close_on": event.closes_on.isoformat()})
        case PriorityChanged():
            to = event.to_priority
            return _modified(event, event.actor, {"priority": to.value, "priority_rank": to.rank})
        case IncidentLinked() | LinkedIncidentResolved():
            return _incident_change(event)
        case CommandRejected():
            return CaseChange(add_to_set={"commands": rejected_outcome(event)})
        case _:  # one the feed does not show (SLA clocks, triage): recorded as applied only
            return CaseChange()


def _modified(event: AnyCaseEvent, actor: Actor | None, fields: Doc) -> CaseChange:
    # Last Modified is the last update or communication on the case (seed: Case Search).
    by = {"last_modified_by": actor.name} if actor else {}
    return CaseChange(set={**fields, **by}, max={"last_modified": event.occurred_at})


def _submitted(event: CaseSubmitted, names: Doc) -> CaseChange:
    contact = names.get("contact_name") or event.contact_id
    module = module_of(event.details)
    base = {
        "number": event.case_number,
        "number_s": str(event.case_number),
        "subject": event.subject,
        "subject_lc": event.subject.lower(),
        "description": event.description,
        "case_type": event.case_type.value,
        "module": module.value if module else None,
        "priority": event.priority.value,
        "priority_rank": event.priority.rank,
        "account_id": event.account_id,
        "account_name": names.get("account_name") or event.account_id,
        "contact_id": event.contact_id,
        "contact_name": contact,
        "contact_lc": contact.lower(),
        "created_at": event.occurred_at,
        "created_by": event.submitted_by.model_dump(mode="json"),
        "due_date": event.due_date.isoformat() if event.due_date else None,
        "details": event.details.model_dump(mode="json"),
    }
    # Status and owner only on insert: a late redelivery must not undo later workflow moves.
    initial = {
        "status": Status.NEW.value,
        "closed": False,
        "owner": {"kind": "contact", "name": event.submitted_by.name},
        "last_modified_by": event.submitted_by.name,
    }
    return CaseChange(set=base, set_on_insert=initial, max={"last_modified": event.occurred_at})


def _status_changed(event: StatusChanged) -> CaseChange:
    to = event.to_status
    fields: Doc = {"status": to.value, "closed": to is Status.CLOSED}
    if to is Status.PENDING_CUSTOMER_VERIFICATION and event.note:
        fields["resolution"] = event.note
    if event.development_issue:
        fields["development_issue"] = event.development_issue
    if event.release_name:
        fields["release_name"] = event.release_name
    unset: tuple[str, ...] = ()
    if to is Status.CLOSED:
        fields["closed_at"] = event.occurred_at
    else:
        unset = ("closed_at",)
    change = _modified(event, event.actor, fields)
    decided = applied_outcome(event)
    outcomes = {} if decided is None else {"commands": decided}
    return CaseChange(set=change.set, max=change.max, unset=unset, add_to_set=outcomes)


def _attachment(event: AttachmentAdded) -> CaseChange:
    meta = {**event.attachment.model_dump(mode="json"), "post_id": _str(event.post_id)}
    if event.visibility is Visibility.INTERNAL:  # listed for staff only, and no Last Modified
        return CaseChange(add_to_set={"attachments": {**meta, "visibility": "internal"}})
    change = _modified(event, event.author, {})
    return CaseChange(set=change.set, max=change.max, add_to_set={"attachments": meta})


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


# --- linked incidents -----------------------------------------------------------------------


def _incident_change(event: IncidentLinked | LinkedIncidentResolved) -> CaseChange:
    """A link, unlink or resolution appended to the case's incident log (`incident_links`),
    which `linked_incidents` folds: a log of entries, not a map keyed by notice id, so both
    update paths apply it alike ($addToSet, each entry unique by its event id)."""
    actor = event.actor if isinstance(event, IncidentLinked) else None
    change = _modified(event, actor, {})
    entry = {
        "event_id": str(event.event_id),
        "notice_id": event.notice_id,
        "title": event.title,
        "change": _link_change(event),
        "at": event.occurred_at,
    }
    return CaseChange(set=change.set, max=change.max, add_to_set={"incident_links": entry})


def _link_change(event: IncidentLinked | LinkedIncidentResolved) -> str:
    if isinstance(event, LinkedIncidentResolved):
        return "resolved"
    return "linked" if event.linked else "unlinked"


def linked_incidents(log: list[Doc]) -> list[Doc]:
    """The incidents a case is linked to now, oldest link first, from its incident log: an
    unlink drops one, a resolution marks it (and lists it when its link came before the
    feed's history, e.g. a resolution replayed alone)."""
    current: dict[str, Doc] = {}
    for entry in log:
        notice_id, change = entry["notice_id"], entry["change"]
        if change == "unlinked":
            current.pop(notice_id, None)
            continue
        if change == "linked" and notice_id in current:
            current[notice_id]["title"] = entry["title"]  # linked again: it stays as it was
            continue
        link = current.setdefault(
            notice_id, {"notice_id": notice_id, "linked_at": entry["at"], "resolved_at": None}
        )
        link["title"] = entry["title"]
        if change == "resolved":
            link["resolved_at"] = entry["at"]
    return [{**link, "resolved": link["resolved_at"] is not None} for link in current.values()]


# --- command outcomes -----------------------------------------------------------------------


def applied_outcome(event: StatusChanged) -> Doc | None:
    """The decision a status change records on its case when a command caused it; None for
    a move no command caused (a contact's post answering it, a timer)."""
    if event.command_id is None:
        return None
    return {
        "command_id": str(event.command_id),
        "command": _applied_command(event),
        "outcome": "applied",
        "decided_at": event.occurred_at,
        "status": event.to_status.value,
    }


def rejected_outcome(event: CommandRejected) -> Doc:
    """The decision a rejection records on its case, with the workflow's reason."""
    return {
        "command_id": str(event.command_id),
        "command": event.command_type.removeprefix("case."),
        "outcome": "rejected",
        "decided_at": event.occurred_at,
        "reason": event.reason,
    }


def _applied_command(event: StatusChanged) -> str:
    """The command a status change carried out, as intake names it (CloseCase: "close")."""
    if event.to_status is Status.CLOSED:
        return "close"
    if event.to_status is Status.RE_OPENED:
        return "reopen"
    return "change_status"


def outcome_of(case: Doc, command_id: str) -> Doc:
    """A command's outcome on its case: the recorded decision, or pending without one. The
    status is the one the command moved the case to, else the case's status now."""
    decided = [c for c in case.get("commands", []) if c.get("command_id") == command_id]
    found = decided[-1] if decided else {"command": None, "outcome": "pending"}
    return {
        "reason": None,
        "decided_at": None,
        **found,
        "command_id": command_id,
        "case_id": case["_id"],
        "case_number": case.get("number"),
        "status": found.get("status") or case.get("status"),
    }


# --- feed wording ---------------------------------------------------------------------------


def who(actor: Actor | Doc) -> str:
    """An actor as the feed names them: "Zack Morris (TESTING) (Customer)"."""
    kind = ActorKind(actor.kind if isinstance(actor, Actor) else actor["kind"])
    name = actor.name if isinstance(actor, Actor) else actor["name"]
    return f"{name} ({ROLES[kind]})"


def feed_item(event: AnyCaseEvent, before: Doc | None) -> Doc | None:
    """The feed entry an event adds, worded like the portal; None when it adds none."""
    match event:
        case PostAdded():
            return _post(event)
        case AttachmentAdded() if event.post_id is not None:
            return None  # shown with its post
        case _:
            wording = _wording(event, before or {})
            return None if wording is None else _activity(event, *wording)


def _activity(event: AnyCaseEvent, actor: Doc, headline: str, lines: list[str]) -> Doc:
    text = " ".join([headline, *lines])
    return {
        "_id": str(event.event_id),
        "case_id": str(event.case_id),
        "at": event.occurred_at,
        "kind": "activity",
        "event_type": event.type,
        "actor": actor,
        "role": ROLES[ActorKind(actor["kind"])],
        "headline": headline,
        "lines": lines,
        "search_lc": text.lower(),
    }


def _post(event: PostAdded) -> Doc:
    actor = event.author.model_dump(mode="json")
    files = [a.filename for a in event.attachments]
    text = " ".join([who(event.author), event.body_text, *files])
    return {
        **_activity(event, actor, who(event.author), []),
        "kind": "post",
        "post_id": str(event.post_id),
        "body_html": event.body_html,
        "body_text": event.body_text,
        "attachments": [a.model_dump(mode="json") for a in event.attachments],
        "search_lc": text.lower(),
        "visibility": event.visibility.value,
    }


def _wording(event: AnyCaseEvent, before: Doc) -> tuple[Doc, str, list[str]] | None:
    match event:
        case CaseSubmitted():
            return _dump(event.submitted_by), f"{who(event.submitted_by)} created this case.", []
        case CaseRouted():
            return _routed(event, before)
        case CaseAssigned():
            new = event.assignee.name if event.assignee else event.department.value
            return _updated(event.actor, [f"Case Owner {_owner_name(before)} to {new}"])
        case StatusChanged():
            return _updated(event.actor, status_lines(event))
        case AttachmentAdded():
            line = f"Attachment {event.attachment.filename} ({_size(event.attachment)})"
            return _updated(event.author, [line])
        case RecipientsChanged():
            return _updated(event.actor, recipient_lines(event))
        case CaseFollowedUp():
            return _followed_up(event)
        case PriorityChanged():
            change = f"Priority {event.from_priority.value} to {event.to_priority.value}"
            return _updated(event.actor, [change, f"Reason: {event.reason}"])
        case IncidentLinked():
            how = "Linked to" if event.linked else "Unlinked from"
            return _updated(event.actor, [f"{how} the status-board incident “{event.title}”"])
        case LinkedIncidentResolved():
            return _incident_resolved(event)
        case CommandRejected():
            verb = event.command_type.replace("_", " ").lower()
            head = f"{who(event.actor)} request ({verb}) was not accepted."
            return _dump(event.actor), head, [event.reason]
        case _:
            return None


def _dump(actor: Actor) -> Doc:
    return actor.model_dump(mode="json")


def _updated(actor: Actor, lines: list[str]) -> tuple[Doc, str, list[str]]:
    return _dump(actor), f"{who(actor)} updated this record.", lines


def _owner_name(before: Doc) -> str:
    owner = before.get("owner") or {}
    return str(owner.get("name") or "Unassigned")


def _routed(event: CaseRouted, before: Doc) -> tuple[Doc, str, list[str]]:
    line = f"Case Owner {_owner_name(before)} to {event.department.value}"
    if event.actor is not None:  # a staff transfer, with its reason for everyone to read
        moved = event.previous_department.value if event.previous_department else "its queue"
        transfer = f"Transferred from {moved} to {event.department.value}"
        reason = f": {event.reason}" if event.reason else ""
        return _updated(event.actor, [line, transfer + reason])
    # Routing acts on the submitter's behalf: the seed shows the contact "updated this record".
    actor = before.get("created_by") or {"kind": "system", "id": "system", "name": "Support Portal"}
    return actor, f"{who(actor)} updated this record.", [line]


def status_lines(event: StatusChanged) -> list[str]:
    """Status change wording with the escalation, release, resolution or reopen details."""
    lines = [f"Status {event.from_status.value} to {event.to_status.value}"]
    to = event.to_status
    if to is Status.ASSIGNED_TO_DEVELOPMENT:
        issue = event.development_issue or "pending"
        lines.append(f"Escalated to Development: development issue {issue}")
    if to is Status.AVAILABLE_IN_RELEASE:
        lines.append(f"Available in Release {event.release_name or 'to be announced'}")
    if event.note:
        lines.append(f"{_NOTE_LABELS.get(to, 'Note')}: {event.note}")
    return lines


_NOTE_LABELS = {
    Status.PENDING_CUSTOMER_VERIFICATION: "Resolution",
    Status.ASSIGNED_TO_DEVELOPMENT: "Escalation note",
    Status.AVAILABLE_IN_RELEASE: "Release note",
    Status.RE_OPENED: "Reopen details",
    Status.CLOSED: "Closing note",
}


def recipient_lines(event: RecipientsChanged) -> list[str]:
    """Who was added to and removed from the notification recipients."""
    lines = []
    if event.added:
        lines.append("Notification recipients added: " + ", ".join(event.added))
    if event.removed:
        lines.append("Notification recipients removed: " + ", ".join(event.removed))
    return lines or ["Notification recipients unchanged"]


def _followed_up(event: CaseFollowedUp) -> tuple[Doc, str, list[str]]:
    system = {"kind": "system", "id": "system", "name": "Support Portal"}
    day = event.closes_on.strftime("%m/%d/%Y")
    line = (
        f"Reminder: this case is awaiting your verification and will close on {day} "
        f"({event.business_days_left} business days left) unless you reply."
    )
    return system, "Support Portal (System) sent a follow-up reminder.", [line]


def _incident_resolved(event: LinkedIncidentResolved) -> tuple[Doc, str, list[str]]:
    # Plain text like every activity line (never HTML): readers escape it when they show it.
    lines = [f"Resolution: {event.resolution}"] if event.resolution.strip() else []
    return dict(SYSTEM_ACTOR), f"The incident “{event.title}” is resolved.", lines


def _size(attachment: AttachmentRef) -> str:
    return (
        f"{attachment.size / 1024:.1f} KB"
        if attachment.size < 1024**2
        else (f"{attachment.size / 1024**2:.1f} MB")
    )


# --- case list queries ----------------------------------------------------------------------


class SubjectOp(StrEnum):
    """How the subject filter compares, as the portal's dropdown offers."""

    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"


class SortKey(StrEnum):
    """Columns the case list sorts by."""

    CASE_NUMBER = "case_number"
    SUBJECT = "subject"
    STATUS = "status"
    PRIORITY = "priority"
    MODULE = "module"
    LAST_MODIFIED = "last_modified"
    CONTACT = "contact"
    CASE_TYPE = "case_type"
    CREATED = "created"


SORT_FIELDS = {
    SortKey.CASE_NUMBER: "number",
    SortKey.SUBJECT: "subject_lc",
    SortKey.STATUS: "status",
    SortKey.PRIORITY: "priority_rank",
    SortKey.MODULE: "module",
    SortKey.LAST_MODIFIED: "last_modified",
    SortKey.CONTACT: "contact_lc",
    SortKey.CASE_TYPE: "case_type",
    SortKey.CREATED: "created_at",
}

# Fields the case list filters on by range: an index alone (staff) and after account_id.
RANGE_FILTERED = ("last_modified", "number_s", "subject_lc", "contact_lc")
# Fields it filters on by equality: one index, account_id second, serves staff and districts.
# Every index costs each case update a rewrite of its entry on this server: keep them few.
EQUALITY_FILTERED = ("status", "priority", "module", "case_type", "closed")


@dataclass(frozen=True)
class CaseFilter:
    """The seeds' case search filters, combined with AND."""

    number: str | None = None
    subject: str | None = None
    subject_op: SubjectOp = SubjectOp.STARTS_WITH
    status: Status | None = None
    priority: Priority | None = None
    module: str | None = None
    case_type: str | None = None
    contact: str | None = None
    last_modified_on: date | None = None
    closed: bool | None = None
    time_zone: str = DEFAULT_TIME_ZONE


@dataclass(frozen=True)
class CaseQuery:
    """A case list query split for the server: an indexed part, then a residual match."""

    indexed: Doc
    residual: Doc
    sort: list[tuple[str, int]]


MAX_CODE_POINT = 0x10FFFF
SURROGATES = range(0xD800, 0xE000)  # not characters: no stored string holds one


def prefix_range(prefix: str) -> Doc:
    """An anchored prefix as a range on an ordered string index (the server plans ranges).

    The bound is the least string above every string starting with `prefix`, in code point
    order (UTF-8 byte order): its last character that can grow, grown by one (past the
    surrogates), and what follows it dropped. A prefix of U+10FFFF only has no upper bound.
    """
    for end in range(len(prefix), 0, -1):
        code = ord(prefix[end - 1]) + 1
        if code in SURROGATES:
            code = SURROGATES.stop
        if code <= MAX_CODE_POINT:
            return {"$gte": prefix, "$lt": prefix[: end - 1] + chr(code)}
    return {"$gte": prefix}


def day_range(day: date, time_zone: str) -> Doc:
    """A calendar day in a time zone, as a UTC range."""
    zone = zone_info(time_zone)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return {"$gte": start.astimezone(UTC), "$lt": end.astimezone(UTC)}


def regex_literal(text: str) -> str:
    """`text` as a regular expression matching it literally, on the server and in Python.

    NUL is written as the escape `\\x00`: a compiled pattern travels as a C string in BSON,
    where a raw NUL cannot be encoded.
    """
    return re.escape(text).replace("\x00", "\\x00")


def subject_clause(value: str, op: SubjectOp) -> Doc:
    """The subject comparison, case-insensitive over the lowercased copy, regex-escaped."""
    text = value.lower()
    escaped = regex_literal(text)
    match op:
        case SubjectOp.EQUALS:
            return {"$eq": text}
        case SubjectOp.NOT_EQUALS:
            return {"$ne": text}
        case SubjectOp.STARTS_WITH:
            return prefix_range(text)
        case SubjectOp.ENDS_WITH:
            return {"$regex": f"{escaped}$"}
        case SubjectOp.CONTAINS:
            return {"$regex": escaped}
        case SubjectOp.NOT_CONTAINS:
            return {"$not": re.compile(escaped)}


# Needles of two characters look up a bigram, longer ones their rarest trigram.
GRAM_SIZES = (2, 3)
# English letters, most frequent first: a gram of rarer letters holds fewer cases.
_LETTER_ORDER = " etaoinshrdlcumwfgypbvkjxqz"


def subject_grams(subject_lc: str) -> list[str]:
    """Every distinct bigram and trigram of a lowercased subject, sorted: the postings in
    `subjects` that hold it."""
    return sorted(
        {subject_lc[i : i + n] for n in GRAM_SIZES for i in range(len(subject_lc) - n + 1)}
    )


def rarest_gram(needle_lc: str) -> str | None:
    """The needle's gram likely held by the fewest subjects: its rarest trigram, its bigram
    when it has two characters; None for a single character."""
    size = min(len(needle_lc), max(GRAM_SIZES))
    if size < min(GRAM_SIZES):
        return None
    grams = {needle_lc[i : i + size] for i in range(len(needle_lc) - size + 1)}

    def commonness(gram: str) -> int:
        # Digits, punctuation and other scripts count as rarer than any letter.
        return sum(len(_LETTER_ORDER) - _LETTER_ORDER.find(c) for c in gram if c in _LETTER_ORDER)

    return min(grams, key=lambda g: (commonness(g), g))


# Cases per posting bucket: a posting is rewritten whole on each change, so a district's
# posting of a gram is split into buckets of about this many cases (by their order of
# arrival in the district) and only the newest one is written to.
BUCKET_SIZE = 200


@dataclass(frozen=True)
class Subject:
    """A submitted case's lowercased subject, which the `subjects` postings index, and its
    place among its district's cases (which posting bucket it goes to)."""

    case_id: str
    account_id: str
    subject_lc: str
    ordinal: int = 0


def subject_of(case: Doc) -> Subject:
    """The subject of a submitted case document."""
    return Subject(case["_id"], case["account_id"], case["subject_lc"])


# Joins district and gram in a posting's id; never part of a district id.
_KEY_SEP = "\x1f"


def posting_key(account_id: str, gram: str, bucket: int = 0) -> str:
    """The id of one bucket of the posting of one gram in one district."""
    return f"{account_id}{_KEY_SEP}{gram}{_KEY_SEP}{bucket}"


Posting = tuple[str, str, dict[str, str]]  # gram, district, case id -> lowercased subject


def postings(subjects: list[Subject], bucket_size: int = BUCKET_SIZE) -> dict[str, Posting]:
    """Each gram's posting bucket per district: its id -> (gram, district, case id ->
    lowercased subject)."""
    out: dict[str, Posting] = {}
    for subject in subjects:
        bucket = subject.ordinal // bucket_size
        for gram in subject_grams(subject.subject_lc):
            key = posting_key(subject.account_id, gram, bucket)
            entry = out.setdefault(key, (gram, subject.account_id, {}))
            entry[2][subject.case_id] = subject.subject_lc
    return out


def posting_filter(accounts: list[str] | None, needle_lc: str) -> Doc:
    """Every bucket of the postings of the needle's rarest gram, in the districts (or all)."""
    gram = rarest_gram(needle_lc)
    if accounts is None:
        return {"gram": gram}
    return {"gram": gram, "account_id": {"$in": accounts}}


def matching_ids(found: list[Doc], needle_lc: str) -> list[str]:
    """The cases of the postings whose subject holds the needle, each once: exact, the
    posting's gram only narrows. A case may sit in two buckets of one gram (a redelivered
    submission is entered again, in the district's newest bucket by then)."""
    held = (c for doc in found for c, text in doc.get("cases", {}).items() if needle_lc in text)
    return list(dict.fromkeys(held))


def first_window(count: int, members: int, matches: int) -> int:
    """How many newest cases to read first for `count` of `matches` spread over `members`:
    a doubling of the page expected to hold them."""
    n = 2 * count
    while n * matches < count * members and n < members:
        n *= 2
    return n


def filter_clauses(flt: CaseFilter) -> Doc:
    """Each filter as a clause on an indexed field."""
    clauses: Doc = {}
    if flt.number:
        clauses["number_s"] = prefix_range(flt.number)
    if flt.subject:
        clauses["subject_lc"] = subject_clause(flt.subject, flt.subject_op)
    pairs = (
        ("status", flt.status),
        ("priority", flt.priority),
        ("module", flt.module),
        ("case_type", flt.case_type),
        ("closed", flt.closed),
    )
    clauses.update({key: str(v) if key != "closed" else v for key, v in pairs if v is not None})
    if flt.contact:
        clauses["contact_lc"] = prefix_range(flt.contact.lower())
    if flt.last_modified_on:
        clauses["last_modified"] = day_range(flt.last_modified_on, flt.time_zone)
    return clauses


def _indexable(clause: Any) -> bool:
    if not isinstance(clause, dict):
        return True
    return bool(clause) and all(op in ("$eq", "$gte", "$lt", "$gt", "$lte", "$in") for op in clause)


# Most selective first: the one the indexed part pins after account_id.
_PREFERENCE = (
    "number_s",
    "last_modified",
    "subject_lc",
    "contact_lc",
    "module",
    "case_type",
    "priority",
    "status",
    "closed",
)


def plan_query(
    flt: CaseFilter, accounts: list[str] | None, sort: SortKey, descending: bool
) -> CaseQuery:
    """Split the filter: account scope plus one indexable clause first, the rest after."""
    clauses = filter_clauses(flt)
    pick = next((k for k in _PREFERENCE if k in clauses and _indexable(clauses[k])), None)
    indexed: Doc = {}
    if accounts is not None:
        indexed["account_id"] = accounts[0] if len(accounts) == 1 else {"$in": accounts}
    multi = accounts is not None and len(accounts) != 1
    if pick is not None and not multi:
        indexed[pick] = clauses.pop(pick)
    if not indexed:
        # Staff without an indexable filter: walk the last-modified index, never the collection.
        indexed["last_modified"] = {"$gte": EPOCH}
    direction = -1 if descending else 1
    order = [(SORT_FIELDS[sort], direction), ("number", direction)]
    return CaseQuery(indexed=indexed, residual=clauses, sort=order)


def is_newest_first(flt: CaseFilter, sort: SortKey, descending: bool) -> bool:
    """The default list: no filter, last modified newest first (served by a window read)."""
    return descending and sort is SortKey.LAST_MODIFIED and not filter_clauses(flt)


def newest_filter(account: str | None, since: datetime) -> Doc:
    """One district's (or every) case modified at or after `since`: a range on an index."""
    window: Doc = {"last_modified": {"$gte": since}}
    return window if account is None else {"account_id": account, **window}


def window_pipeline(
    account: str | None, since: datetime, residual: Doc, count: int, projection: Doc
) -> list[Doc]:
    """The newest `count` cases of a window that match `residual`. The residual is a stage
    of its own: folded into the window's match, a `$not` makes the server scan everything."""
    return [
        {"$match": newest_filter(account, since)},
        {"$match": residual},
        {"$sort": {"last_modified": -1, "number": -1}},
        {"$limit": count},
        {"$project": projection},
    ]


def excluded_needle(flt: CaseFilter, sort: SortKey, descending: bool) -> str | None:
    """The needle of a lone "does not contain" filter in the default order, when it has a
    trigram: such a list is served as the default one minus the cases that contain it."""
    if not (descending and sort is SortKey.LAST_MODIFIED and flt.subject):
        return None
    if flt.subject_op is not SubjectOp.NOT_CONTAINS or set(filter_clauses(flt)) != {"subject_lc"}:
        return None
    needle = flt.subject.lower()
    return needle if rarest_gram(needle) is not None else None


def contained_needle(flt: CaseFilter) -> str | None:
    """The needle of a "contains" filter that has a gram: its matches are looked up in
    `subjects` and the page read from `cases` by id."""
    if flt.subject_op is not SubjectOp.CONTAINS or not flt.subject:
        return None
    needle = flt.subject.lower()
    return needle if rarest_gram(needle) is not None else None


def is_lone_contains(flt: CaseFilter, sort: SortKey, descending: bool) -> bool:
    """A "contains" alone, newest first: its page can be read from the newest-first windows."""
    default = descending and sort is SortKey.LAST_MODIFIED
    return (
        default and contained_needle(flt) is not None and set(filter_clauses(flt)) == {"subject_lc"}
    )


def plan_among(flt: CaseFilter, case_ids: list[str], sort: SortKey, descending: bool) -> CaseQuery:
    """A list query over known cases (a subject's matches): the ids on the primary key, the
    filters other than the subject after it."""
    residual = filter_clauses(flt)
    residual.pop("subject_lc", None)
    direction = -1 if descending else 1
    order = [(SORT_FIELDS[sort], direction), ("number", direction)]
    return CaseQuery(indexed={"_id": {"$in": case_ids}}, residual=residual, sort=order)


def containing(needle: str) -> Doc:
    """The residual clause of a "contains" window read."""
    return {"subject_lc": subject_clause(needle, SubjectOp.CONTAINS)}


def not_containing(needle: str) -> Doc:
    """The residual clause of a "does not contain" window read."""
    return {"subject_lc": subject_clause(needle, SubjectOp.NOT_CONTAINS)}


def newest_first(docs: list[Doc]) -> list[Doc]:
    """Cases in the default order: last modified newest first, ties by number."""
    return sorted(docs, key=lambda d: (d["last_modified"], d["number"]), reverse=True)


def case_pipeline(query: CaseQuery, skip: int, limit: int, projection: Doc) -> list[Doc]:
    """One round trip: indexed match, residual match, sort, then the page and the total."""
    stages: list[Doc] = [{"$match": query.indexed}]
    if query.residual:
        stages.append({"$match": query.residual})
    page = [{"$skip": skip}, {"$limit": limit}, {"$project": projection}]
    stages.append({"$sort": dict(query.sort)})
    stages.append({"$facet": {"items": page, "total": [{"$count": "n"}]}})
    return stages


# --- display --------------------------------------------------------------------------------


def feed_page(
    items: list[Doc], text: str | None, newest_first: bool, skip: int, limit: int
) -> tuple[int, list[Doc]]:
    """Search (case-insensitive, literal), order by time and cut one page of a case's feed."""
    needle = text.lower() if text else None
    found = [i for i in items if needle is None or needle in i.get("search_lc", "")]
    found.sort(key=lambda i: (i["at"], i["_id"]), reverse=newest_first)
    return len(found), found[skip : skip + limit]


def readable(docs: list[Doc], staff: bool) -> list[Doc]:
    """The feed items or attachments a reader may see: staff everything, a contact none of
    an internal note's."""
    return docs if staff else [d for d in docs if d.get("visibility") != Visibility.INTERNAL]


def pages(total: int, page_size: int) -> int:
    """How many pages a total fills; an empty list still has one page."""
    return max(1, -(-total // page_size))


# --- banner ---------------------------------------------------------------------------------


def banner_of(notices: list[Notice], account_ids: list[str] | None) -> Notice | None:
    """The notice the banner shows to these districts (None: staff, every district)."""

    def concerns(notice: Notice) -> bool:
        affected = notice.affected_account_ids
        return account_ids is None or not affected or bool(set(affected) & set(account_ids))

    return leading_notice(n for n in notices if concerns(n))
