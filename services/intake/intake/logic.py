"""Pure decisions of intake: who may do what, the seeds' date rules, sanitizing, limits."""

import hashlib
import html
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

import filetype
import nh3

from intake.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Problem,
    RateLimited,
    TooLarge,
    problem,
)
from shared.cases import (
    DataRestore,
    Details,
    RequestConsulting,
    RequestTechnicalServices,
    RequestTraining,
    parse_case_ref,
)
from shared.commands import is_blank
from shared.directory import Principal
from shared.enums import CaseType, ContactType, Department, Priority, Status, Visibility
from shared.events import Contact
from shared.workflow import REOPEN_WINDOW_DAYS, can_reopen, priority_allowed

RETENTION_DAYS = 30
OCTET_STREAM = "application/octet-stream"


# --- submission ------------------------------------------------------------------------


def check_can_submit(principal: Principal) -> None:
    """Read-Only contacts may read and follow cases but not submit them."""
    if not principal.can_modify_cases:
        raise Forbidden(
            problem(
                "Authorization",
                "read_only_contact",
                "Read-Only contacts cannot submit cases; ask an Authorized Support, "
                "Technical or Implementation contact of your district to submit it",
            )
        )


def choose_account(principal: Principal, requested: str | None) -> str:
    """The caller's district by default; a contact of several districts must name one."""
    if requested is not None:
        if not principal.sees_account(requested):
            raise Invalid(
                problem(
                    "account_id",
                    "one_of_your_districts",
                    f"account_id {requested!r} is not one of your districts; "
                    f"use one of {principal.account_ids}",
                )
            )
        return requested
    if len(principal.account_ids) == 1:
        return principal.account_ids[0]
    choices = principal.account_ids or ["<any account id>"]
    raise Invalid(
        problem(
            "account_id",
            "required_for_several_districts",
            "you are a contact of several districts (or staff); "
            f"set account_id to one of {choices}",
        )
    )


def check_case_contact(account_id: str, contact: Contact | None, requested: str) -> None:
    """Another contact named on the case must be an active, authorized contact of the district."""
    if contact is None or not contact.active or account_id not in contact.account_ids:
        raise Invalid(
            problem(
                "contact_id",
                "active_contact_of_district",
                f"contact_id {requested!r} is not an active contact of account {account_id}; "
                "omit it to be the contact yourself",
            )
        )
    if contact.contact_type is ContactType.READ_ONLY:
        raise Invalid(
            problem(
                "contact_id",
                "authorized_contact",
                f"contact {requested!r} is Read-Only; a case's contact must be an "
                "Authorized Support, Technical or Implementation contact",
            )
        )


def check_priority(case_type: CaseType, priority: Priority) -> None:
    """Critical means the product is not operational: it is limited to outage cases."""
    if not priority_allowed(case_type, priority):
        raise Invalid(
            problem(
                "priority",
                "critical_only_for_outage",
                "Critical is limited to 'Report an Outage' cases; use High, Medium or Low, "
                "or submit a 'Report an Outage' case",
            )
        )


def date_problems(details: Details, due_date: date | None, today: date) -> list[Problem]:
    """The seeds' date rules, which depend on today's date in the district's time zone."""
    found: list[Problem] = []
    if due_date is not None and due_date < today:
        found.append(problem("due_date", "not_in_past", f"due_date must be {today} or later"))
    for check in _DATE_CHECKS.get(type(details), ()):
        found.extend(check(details, today))
    return found


def _restore_window(details: Any, today: date) -> list[Problem]:
    lost: date = details.approximate_date_of_loss
    if lost > today:
        return [problem("approximate_date_of_loss", "not_in_future", f"must be {today} or earlier")]
    if (today - lost).days > RETENTION_DAYS:
        message = (
            f"data is retained for {RETENTION_DAYS} days: the loss date must be on or after "
            f"{date.fromordinal(today.toordinal() - RETENTION_DAYS)}"
        )
        return [problem("approximate_date_of_loss", "within_retention", message)]
    return []


def _future(*names: str) -> Callable[[Any, date], list[Problem]]:
    def check(details: Any, today: date) -> list[Problem]:
        return [
            problem(name, "future_date", f"{name} must be a future date, after {today}")
            for name in names
            if getattr(details, name) is not None and getattr(details, name) <= today
        ]

    return check


def _completion(details: Any, today: date) -> list[Problem]:
    if details.desired_completion_date < today:
        message = f"desired_completion_date must be {today} or later"
        return [problem("desired_completion_date", "not_in_past", message)]
    return []


_DATE_CHECKS: dict[type[Details], tuple[Callable[[Any, date], list[Problem]], ...]] = {
    DataRestore: (_restore_window,),
    RequestTraining: (
        _future(
            "preferred_training_date", "preferred_training_date_2", "preferred_training_date_3"
        ),
    ),
    RequestConsulting: (
        _future("preferred_consult_date", "preferred_consult_date_2", "preferred_consult_date_3"),
    ),
    RequestTechnicalServices: (_completion,),
}


# --- posts and attachments --------------------------------------------------------------

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "ul",
    "ol",
    "li",
    "a",
    "code",
    "pre",
    "blockquote",
    "img",
}
LINK_SCHEMES = ("https://", "http://", "mailto:")
REMOTE_SCHEMES = ("https://", "http://")
# Inline raster images load nothing from the network; SVG stays out even inline.
INLINE_IMAGES = ("data:image/png;", "data:image/jpeg;", "data:image/gif;", "data:image/webp;")
LINK_REL = "noopener noreferrer nofollow"
# nh3 writes every attribute as name="value" with `"`, `<` and `>` escaped, so this finds each
# image it lets through; the final pass drops any remote source it could still miss.
_IMAGE_TAG = re.compile(r'<img((?:\s+[a-z-]+="[^"]*")*)\s*/?>')
_ATTRIBUTE = re.compile(r'([a-z-]+)="([^"]*)"')


def _url_filter(remote_images: bool) -> Callable[[str, str, str], str | None]:
    image_schemes = INLINE_IMAGES + (REMOTE_SCHEMES if remote_images else ())

    def keep(tag: str, attribute: str, value: str) -> str | None:
        lowered = value.strip().lower()
        if tag == "a" and attribute == "href":
            return value if lowered.startswith(LINK_SCHEMES) else None
        if tag == "img" and attribute == "src":
            return value if lowered.startswith(image_schemes) else None
        return value

    return keep


_WITH_REMOTE_IMAGES = _url_filter(remote_images=True)
_INLINE_IMAGES_ONLY = _url_filter(remote_images=False)


def _clean(body: str, url_filter: Callable[[str, str, str], str | None]) -> str:
    return nh3.clean(
        body,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href"}, "img": {"src", "alt"}},
        url_schemes={"https", "http", "mailto", "data"},
        link_rel=LINK_REL,
        attribute_filter=url_filter,
    )


def _remote_image_as_link(found: re.Match[str]) -> str:
    src = dict(_ATTRIBUTE.findall(found.group(1))).get("src", "").strip()
    if src.lower().startswith(INLINE_IMAGES):
        return found.group(0)
    if src.lower().startswith(REMOTE_SCHEMES):
        return f'<a href="{src}">[image: {src}]</a>'  # src is already escaped by nh3
    return ""  # an image whose source was refused shows nothing


def sanitize_html(body: str) -> tuple[str, str]:
    """The post's HTML cut to the allow-list, and its plain text.

    A remote image would be fetched by every reader's browser or mail client as soon as the
    post is shown (a tracking pixel), so it becomes a link reading "[image: <url>]" that the
    reader may choose to follow; only inline raster images (data: URLs) stay images.
    """
    linked = _IMAGE_TAG.sub(_remote_image_as_link, _clean(body, _WITH_REMOTE_IMAGES))
    clean = _clean(linked, _INLINE_IMAGES_ONLY)
    text = html.unescape(nh3.clean(clean.replace("<br>", "\n"), tags=set())).strip()
    return clean, text


def check_post(text: str, clean_html: str, file_count: int) -> None:
    """A post says something, shows an image or carries files."""
    if is_blank(text) and "<img src=" not in clean_html and file_count == 0:
        raise Invalid(
            problem(
                "body",
                "not_blank",
                "body is blank after sanitizing (only spaces, empty tags or removed content); "
                "write some text or attach a file",
            )
        )


def check_file_count(count: int, limit: int) -> None:
    """Up to `limit` attachments per post."""
    if count > limit:
        raise Invalid(
            problem(
                "files",
                "max_items",
                f"{count} files sent; up to {limit} attachments can be added at the same time",
            )
        )


def check_file_size(index: int, size: int, limit: int) -> None:
    """Each attachment is at most `limit` bytes (15 MB = 15 x 2^20 bytes)."""
    if size > limit:
        raise TooLarge(
            problem(
                f"files[{index}]",
                "max_size",
                f"file is {size} bytes; the limit is {limit} bytes "
                f"({limit / 2**20:g} MiB = {limit / 2**20:g} x 2^20 bytes) per file",
            )
        )


def sniff_type(head: bytes, declared: str | None) -> str:
    """The content type the bytes show; the declared type is trusted only for text."""
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    if declared and declared.startswith("text/") and _looks_like_text(head):
        return declared.split(";")[0].strip()
    return OCTET_STREAM


# What a download keeps as its type: formats a browser displays or hands to another program
# without running anything in the page. HTML, XML, SVG, scripts and anything unknown are
# served as bytes, whatever the upload declared or the sniffing found.
SERVABLE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/tiff",
        "image/heic",
        "image/avif",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/rtf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/zip",
        "application/gzip",
    }
)


def served_type(stored: str) -> str:
    """The Content-Type a download is served with: its own if harmless, else octet-stream."""
    base = stored.split(";")[0].strip().lower()
    return base if base in SERVABLE_TYPES else OCTET_STREAM


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # a multibyte char cut by the sniff window
    return b"\x00" not in head


def safe_filename(name: str | None) -> str:
    """A filename fit for a header: no path, no control characters, never empty."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '"')[:255]
    return cleaned or "attachment"


# --- close, reopen ----------------------------------------------------------------------


@dataclass(frozen=True)
class CaseState:
    """What intake knows of a case: its district, owner, last known status and recipients."""

    case_id: str
    account_id: str
    contact_id: str
    status: Status
    closed_at: datetime | None = None
    recipients: tuple[str, ...] = ()
    recipients_version: int = 0
    # The department routing last routed the case to (None until routing has routed it).
    department: Department | None = None


def check_visible(principal: Principal, case: CaseState | None, case_id: str) -> CaseState:
    """The case, if the caller may see it; another district's case is simply not found."""
    if case is None or not principal.sees_account(case.account_id):
        raise NotFound(
            problem("case_id", "exists", f"no case {case_id} in your districts; check the id")
        )
    return case


def case_not_found(ref: str) -> NotFound:
    """The answer for a case reference that names no case the caller can see."""
    return NotFound(
        problem(
            "case_id",
            "exists",
            f"no case {excerpt(ref)} in your districts; use a case number (e.g. 1000003) "
            "or a case id (UUID)",
        )
    )


def check_case_ref(ref: str) -> int | UUID:
    """A case number or a case id (shared.cases.parse_case_ref); NotFound for anything else."""
    parsed = parse_case_ref(ref)
    if parsed is None:
        raise case_not_found(ref)
    return parsed


def check_modify(principal: Principal, action: str) -> None:
    """Only authorized contacts and staff modify cases."""
    if not principal.can_modify_cases:
        raise Forbidden(
            problem(
                "Authorization",
                "read_only_contact",
                f"Read-Only contacts cannot {action} cases; ask an authorized contact",
            )
        )


def check_visibility(principal: Principal, visibility: Visibility) -> None:
    """Only staff write internal notes; contacts' posts are always public."""
    if visibility is Visibility.INTERNAL and not principal.is_staff:
        raise Forbidden(
            problem(
                "visibility",
                "staff_only",
                "only staff can write internal notes; post with visibility public instead",
            )
        )


def check_staff_department(principal: Principal, case: CaseState) -> None:
    """Staff post on cases routed to their departments (supervisors on every case), as they
    work them in routing; a case not routed yet is open to any staff member."""
    if not principal.is_staff or case.department is None or principal.acts_for(case.department):
        return
    own = ", ".join(principal.departments) or "no department"
    raise Forbidden(
        problem(
            "case_id",
            "department",
            f"this case is routed to {case.department} and {principal.name} is staff of "
            f"{own}: its department's staff or a supervisor post on it",
        )
    )


def readable(principal: Principal, visibility: str | None) -> bool:
    """Whether the caller reads something of this visibility: internal is for staff only."""
    return principal.is_staff or visibility != Visibility.INTERNAL.value


def check_close(case: CaseState) -> None:
    """A closed case cannot be closed again."""
    if case.status is Status.CLOSED:
        raise Conflict(
            problem("status", "not_closed", "the case is already closed; reopen it instead")
        )


def check_reopen(case: CaseState, now: datetime, time_zone: str) -> None:
    """Only a closed case reopens, and only within 60 days of closing (district's days)."""
    if case.status is not Status.CLOSED or case.closed_at is None:
        raise Conflict(
            problem("status", "closed", f"the case is {case.status}; only closed cases reopen")
        )
    if not can_reopen(case.closed_at, now, time_zone):
        raise Conflict(
            problem(
                "status",
                "reopen_window",
                f"the case closed on {case.closed_at.date()}, more than {REOPEN_WINDOW_DAYS} "
                "days ago; submit a new case and mention this case number",
            )
        )


# --- notification recipients ------------------------------------------------------------


def recipients_to_add(
    principal: Principal,
    case: CaseState,
    wanted: list[str],
    contacts: dict[str, Contact],
    district: str | None = None,
) -> list[str]:
    """Who may be added: authorized callers add district contacts; Read-Only add themselves.

    Contacts are named by id only (GET /directory/contacts lists them); every id that cannot
    be added is reported at once, one problem each, naming the district (`district`, else the
    case's account id).
    """
    _only_self(principal, wanted, "add")
    if principal.can_modify_cases:
        named = district or case.account_id
        found = [
            p
            for index, contact_id in enumerate(wanted)
            if (
                p := _unaddable(index, contact_id, contacts.get(contact_id), case.account_id, named)
            )
        ]
        if found:
            raise Invalid(*found)
    return [c for c in dict.fromkeys(wanted) if c not in case.recipients]


def recipients_to_remove(principal: Principal, case: CaseState, wanted: list[str]) -> list[str]:
    """Who may be removed: never the owner; Read-Only callers only themselves."""
    _only_self(principal, wanted, "remove")
    if case.contact_id in wanted:
        raise Invalid(
            problem(
                "contact_id",
                "not_owner",
                f"{case.contact_id} owns the case and cannot be removed as a recipient",
            )
        )
    return [c for c in dict.fromkeys(wanted) if c in case.recipients]


def _only_self(principal: Principal, wanted: list[str], action: str) -> None:
    if not principal.can_modify_cases and set(wanted) != {principal.id}:
        raise Forbidden(
            problem(
                "contact_id",
                "only_yourself",
                f"Read-Only contacts can only {action} themselves ({principal.id})",
            )
        )


def _unaddable(
    index: int, contact_id: str, contact: Contact | None, account_id: str, district: str
) -> Problem | None:
    """Why this id cannot be a recipient of a case of `account_id`, or None if it can."""
    field = f"contact_ids[{index}]"
    if contact is None or account_id not in contact.account_ids:
        return problem(
            field,
            "contact_of_district",
            f"no contact with id {excerpt(contact_id)} in {district}; use an id from "
            f"GET /directory/contacts?account_id={account_id}",
        )
    if not contact.active:
        return problem(
            field,
            "active_contact",
            f"{excerpt(contact_id)} is no longer an active contact of {district}; "
            "inactive contacts cannot be recipients",
        )
    if contact.contact_type is ContactType.READ_ONLY:
        return problem(
            field,
            "not_read_only",
            f"{excerpt(contact_id)} is a Read-Only contact; they can add themselves",
        )
    return None


EXCERPT = 40  # characters of a bad input an error message repeats


def excerpt(text: str) -> str:
    """A bad input quoted for an error message: its start only, never all of it."""
    return repr(text if len(text) <= EXCERPT else text[:EXCERPT] + "…")


def apply_change(current: Iterable[str], added: list[str], removed: list[str]) -> list[str]:
    """The recipient list after a change, order kept."""
    kept = [c for c in current if c not in removed]
    return kept + [c for c in added if c not in kept]


# --- rate limit -------------------------------------------------------------------------


@dataclass
class TokenBucket:
    """Per-caller token bucket; in-process, so each replica limits on its own."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, caller: str) -> float:
        """0 when allowed; otherwise seconds until a token is free."""
        now = self.clock()
        tokens, at = self._buckets.get(caller, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[caller] = (tokens - 1.0, now)
            return 0.0
        self._buckets[caller] = (tokens, now)
        return (1.0 - tokens) / self.rate


def check_rate(wait: float, limiter: TokenBucket) -> None:
    """A caller whose bucket is empty waits `wait` seconds (rounded up) before the next call."""
    if wait:
        rule = f"at most {limiter.rate:g} requests/s per token (burst {limiter.burst})"
        raise RateLimited(
            math.ceil(wait), problem("Authorization", "rate_limit", f"{rule}; slow down")
        )


# --- case numbers -----------------------------------------------------------------------


@dataclass
class NumberPool:
    """Case numbers of the blocks this replica holds, handed out in increasing order."""

    _free: list[int] = field(default_factory=list)

    def add_block(self, last: int, size: int) -> None:
        """Numbers last-size+1 .. last, from one counter increment."""
        self._free.extend(range(last - size + 1, last + 1))
        self._free.sort()

    def take(self) -> int | None:
        """The lowest free number, if any."""
        return self._free.pop(0) if self._free else None

    def give_back(self, number: int) -> None:
        """A number whose case was never accepted goes back to be reused."""
        self._free.append(number)
        self._free.sort()

    def __len__(self) -> int:
        return len(self._free)


# --- idempotency ------------------------------------------------------------------------

KEYED_CASES = UUID("5b1d8c8e-2f0e-4a59-9a57-3f1f6f0c2d11")
KEYED_POSTS = UUID("0f7e3c52-8a41-4d0e-b9b6-6c2f4e1d7a90")


def keyed_case_id(principal: Principal, key: str | None) -> UUID | None:
    """The case id an Idempotency-Key stands for: the same (caller, key) always names one case.

    A retry that finds its claim expired (the first attempt died after publishing) publishes
    the same case id and event id again, so no consumer can see two cases.
    """
    return uuid5(KEYED_CASES, f"{principal.kind}:{principal.id}:{key}") if key else None


def keyed_post_id(principal: Principal, key: str | None) -> UUID | None:
    """The post id an Idempotency-Key stands for, so a re-run publishes the same event ids."""
    return uuid5(KEYED_POSTS, f"{principal.kind}:{principal.id}:{key}") if key else None


def scoped_key(principal: Principal, key: str) -> str:
    """An Idempotency-Key belongs to its caller: two callers' equal keys never meet."""
    return f"{principal.kind}:{principal.id}:{key}"


def fingerprint(request: dict[str, Any]) -> str:
    """A stable hash of a request (route and body), to tell a retry from a different request."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replayed(earlier: dict[str, Any], fingerprint: str) -> Any:
    """The first answer to a key, for its retry; a different request or one still running
    under the key is refused."""
    if earlier.get("fingerprint") != fingerprint:
        raise Invalid(
            problem(
                "Idempotency-Key",
                "same_body",
                "this Idempotency-Key was used with a different request body; "
                "use a new key for a new request",
            )
        )
    if "body" not in earlier:
        raise Conflict(
            problem(
                "Idempotency-Key",
                "in_progress",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            )
        )
    return earlier["body"]


# --- directory ---------------------------------------------------------------------------


def name_matches(name: str, query: str | None) -> bool:
    """Whether a person's name holds the query (case-insensitive; every word of it)."""
    if query is None:
        return True
    words = query.casefold().split()
    return all(word in name.casefold() for word in words)


def shows_email(principal: Principal, account_id: str) -> bool:
    """A contact's email is shown to the contacts of that district only."""
    return not principal.is_staff and account_id in principal.account_ids


def check_staff_directory(principal: Principal) -> None:
    """Only staff list staff."""
    if not principal.is_staff:
        raise Forbidden(
            problem(
                "Authorization",
                "staff_only",
                "only staff list the staff of a department; contacts list their district's "
                "contacts at GET /directory/contacts",
            )
        )


def department_of(slug: str) -> Department:
    """The department with this slug; NotFound naming the slugs there are."""
    try:
        return Department.from_slug(slug)
    except ValueError as exc:
        known = ", ".join(d.slug for d in Department)
        raise NotFound(
            problem("department_slug", "exists", f"no department {excerpt(slug)}; one of {known}")
        ) from exc


# --- directory changes (staff) -----------------------------------------------------------


def check_directory_write(principal: Principal) -> None:
    """Only staff change the directory (a district asks for it with a Modify Support
    Contacts case)."""
    if not principal.is_staff:
        raise Forbidden(
            problem(
                "Authorization",
                "staff_only",
                "only staff change the directory; a district asks for a contact to be added, "
                "modified or replaced with a Modify Support Contacts case (POST /cases)",
            )
        )


def check_contact_of(contact: Contact | None, contact_id: str, account_id: str) -> Contact:
    """The active contact of this district; NotFound otherwise."""
    if contact is None or not contact.active or account_id not in contact.account_ids:
        raise NotFound(
            problem(
                "contact_id",
                "exists",
                f"no active contact {excerpt(contact_id)} in district {excerpt(account_id)}; "
                f"GET /directory/contacts?account_id={account_id} lists them",
            )
        )
    return contact


def check_email_free(email: str, contacts: Iterable[Contact], *, except_ids: set[str]) -> None:
    """No other active contact may have this email (case-insensitive): it is how they sign in."""
    wanted = email.strip().casefold()
    for other in contacts:
        if other.active and other.id not in except_ids and str(other.email).casefold() == wanted:
            raise Conflict(
                problem(
                    "email",
                    "unique",
                    f"{excerpt(email)} already belongs to the contact {other.display_name} "
                    f"({other.id}); modify that contact instead, or give another email",
                )
            )


def new_contact_id(first_name: str, last_name: str, taken: set[str], salt: str) -> str:
    """An id from the name (e.g. kelly-kapowski), with a short suffix when that one is taken."""
    base = re.sub(r"[^a-z0-9]+", "-", f"{first_name} {last_name}".casefold()).strip("-")[:48]
    base = base or "contact"
    if base not in taken:
        return base
    suffix = hashlib.sha256(salt.encode()).hexdigest()
    for size in range(6, len(suffix)):
        if (candidate := f"{base}-{suffix[:size]}") not in taken:
            return candidate
    return f"{base}-{suffix}"
