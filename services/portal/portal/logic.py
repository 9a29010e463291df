"""Pure decisions of the portal: case forms, list queries, safe redirects; no I/O."""

import html
import itertools
import re
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel

from portal.errors import Refused
from portal.models import CaseTypeCard, Column, FieldSpec
from shared.cases import DETAILS_BY_TYPE
from shared.enums import CaseType, Module, Priority, Status
from shared.workflow import priority_allowed
from shared.zones import local_time

# The seed's Case Types table ("Case Submission"): description and examples of each type;
# Training, Consulting and Technical Services are the services that may be billable.
CARDS = [
    CaseTypeCard(
        "Application Issue",
        "application-issue",
        "Campus is not working as expected or you are experiencing a problem.",
        ["Receiving error token", "Teachers are unable to take attendance"],
        False,
    ),
    CaseTypeCard(
        "Ask a Question",
        "ask-a-question",
        "Ask a how-to question or for advice.",
        [
            "What is the best way to set up a snow day?",
            "Where can I find a specific report?",
            "How do I end date a student's enrollment?",
        ],
        False,
    ),
    CaseTypeCard(
        "Report an Outage",
        "report-an-outage",
        "Campus is inaccessible for all (or most) users.",
        ["Users are unable to access Infinite Campus"],
        False,
    ),
    CaseTypeCard(
        "Request Training",
        "request-training",
        "Enter a request to schedule Infinite Campus training.",
        [
            "Request for Campus Learning training for teachers",
            "Request for scheduling training for counselors",
        ],
        True,
    ),
    CaseTypeCard(
        "Data Restore",
        "data-restore",
        "Request lost or deleted data be restored. We require your written permission. "
        "Data is backed up nightly and retained for 30 days; data must be missing or deleted.",
        ["Restore deleted enrollment"],
        False,
    ),
    CaseTypeCard(
        "Server Issue",
        "server-issue",
        "Report an issue with your campus server.",
        [
            "SQL database connection issues",
            "Hardware end of life",
            "Reporting server errors",
            "Data Warehouse server problems",
            "SSRS server access issues",
        ],
        False,
    ),
    CaseTypeCard(
        "Server Access",
        "server-access",
        "Request Server, SQL Server, or SSRS Access. Schema Bootcamp training is required "
        "for SQL Server access.",
        ["Request access to the database to run SQL scripts"],
        False,
    ),
    CaseTypeCard(
        "Modify Support Contacts",
        "modify-support-contacts",
        "Update or Replace your current Authorized Contacts",
        [
            "Add an additional contact after the purchase of a Premium Suite",
            "Replace existing Technical Contact after a retirement",
        ],
        False,
    ),
    CaseTypeCard(
        "Request Consulting",
        "request-consulting",
        "Request time with an Infinite Campus Business Consultant, who can guide you on the "
        "use of advanced system features and help align current and future business processes "
        "with SIS functionality.",
        [
            "Request assistance on assessments, custom tabs, grading consultation, "
            "standards-based grading or scheduling"
        ],
        True,
    ),
    CaseTypeCard(
        "Request Technical Services",
        "request-technical-services",
        "Report an issue with an existing Technical Services project, request a new project, "
        "or submit a modification to an existing project.",
        [
            "Existing custom project (fix/modification)",
            "Custom report, report card, or transcript",
            "Data import/export/modification",
            "Integrations with 3rd Party applications (not 1EdTech integrations)",
            "Other Services (e.g. one-off requests)",
        ],
        True,
    ),
]
CARD_BY_SLUG = {card.slug: card for card in CARDS}

# The seed's Case Fields table: each field's label and definition (its tool tip).
LABELS: dict[str, tuple[str, str]] = {
    "subject": (
        "Subject",
        "The topic of the case; brief and specific, it may name the issue and the module.",
    ),
    "description": (
        "Description",
        "Details on the issue: Who, What, Where, When, Why, and How.",
    ),
    "priority": ("Priority", "The scope or time sensitivity of the issue. Defaults to Medium."),
    "account_id": ("Account", "The school district that is reporting the issue."),
    "contact_id": (
        "Contact",
        "The contact who is reporting the issue; you may submit on behalf of another contact.",
    ),
    "due_date": ("Due Date", "If the request is time-sensitive, the date it is due."),
    "application_type": ("Type", "Which application or request type is being made."),
    "services_type": ("Type", "Which application or request type is being made."),
    "module": (
        "Module",
        "The top most reported modules in alphabetical order. If the module is not listed, "
        "select Not Applicable.",
    ),
    "steps_to_reproduce": (
        "Steps to Reproduce",
        "Click-by-click steps to replicate the issue: what is shown, which fields were "
        "populated and with what.",
    ),
    "environment_changes": (
        "Environment Changes",
        "Were any changes recently made to your workstation or to your Campus site?",
    ),
    "error_message": ("Error Message", "Copy and paste any error messages that display."),
    "expected_results": (
        "Expected Results",
        "How do the results differ from what is expected?",
    ),
    "who_is_impacted": (
        "Who is impacted?",
        "The scope of the issue, e.g. all teachers of a course.",
    ),
    "issue_began": ("Issue Began", "When did the issue first occur?"),
    "location_within_product": ("Location within Product", "Area in Campus where you are working."),
    "request_type": ("Request Type", "The kind of request being made."),
    "preferred_training_date": ("Preferred Training Date", "First choice date for the training."),
    "preferred_training_date_2": ("Preferred Training Date 2", "Second choice date."),
    "preferred_training_date_3": ("Preferred Training Date 3", "Third choice date."),
    "approximate_date_of_loss": ("Approximate Date of Loss", "Date when the data was deleted."),
    "reason_for_restore": ("Reason for Restore", "Reason why the data was lost."),
    "written_permission": (
        "I give written permission to restore this data",
        "Restoration may recreate missing or deleted data; data is retained for 30 days.",
    ),
    "desired_completion_date": (
        "Desired Completion Date",
        "Date by which the work should be finished.",
    ),
    "contact_first_name": ("Contact First Name", "First name of the contact being changed."),
    "contact_last_name": ("Contact Last Name", "Last name of the contact being changed."),
    "contact_email": ("Contact Email", "Email address of the contact being changed."),
    "contact_title": ("Contact Title", "Title of the contact being changed."),
    "contact_primary_phone": ("Contact Primary Phone", "Contact's main phone number."),
    "contact_secondary_phone": ("Contact Secondary Phone", "Contact's secondary phone number."),
    "contact_type": (
        "Contact Type",
        "Designate if the contact will be Authorized, Technical, or Read Only.",
    ),
    "areas_of_responsibility": (
        "Area of Responsibility",
        "The area(s) of Campus that the individual is the contact for.",
    ),
    "contact_replacement_name": (
        "Contact Replacement Name",
        "If replacing a contact, which contact should be removed.",
    ),
    "schema_training_completed": (
        "Schema Bootcamp training completed",
        "Required for SQL Server access.",
    ),
    "preferred_consult_date": ("Preferred Consult Date", "First date for the consult."),
    "preferred_consult_date_2": ("Preferred Consult Date 2", "Second date for the consult."),
    "preferred_consult_date_3": ("Preferred Consult Date 3", "Third date for the consult."),
}


def _label(name: str) -> tuple[str, str]:
    return LABELS.get(name, (name.replace("_", " ").capitalize(), ""))


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The field's type without `| None`, and whether None was allowed."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], True
    return annotation, False


def _kind_of(name: str, annotation: Any) -> tuple[str, list[str]]:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is list:
        (inner,) = typing.get_args(annotation)
        return "choices", [m.value for m in inner]
    if typing.get_origin(annotation) is Literal:
        return "confirm", []
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return "select", [m.value for m in annotation]
    if annotation is date:
        return "date", []
    if annotation is bool:
        return "checkbox", []
    return _text_kind(name), []


def _text_kind(name: str) -> str:
    if name.endswith("email"):
        return "email"
    if name.endswith("phone"):
        return "tel"
    long_text = {
        "steps_to_reproduce",
        "environment_changes",
        "error_message",
        "expected_results",
        "reason_for_restore",
    }
    return "textarea" if name in long_text else "text"


def detail_fields(case_type: CaseType) -> list[FieldSpec]:
    """The type-specific controls of a case type's form, in the contract's order."""
    model: type[BaseModel] = DETAILS_BY_TYPE[case_type]
    specs = []
    for name, info in model.model_fields.items():
        if name == "case_type":
            continue
        annotation, optional = _unwrap(info.annotation)
        kind, options = _kind_of(name, annotation)
        label, help_text = _label(name)
        required = info.is_required() and not optional and kind != "checkbox"
        specs.append(FieldSpec(name, label, kind, required, help_text, options))  # type: ignore[arg-type]
    return specs


def priorities_for(case_type: CaseType | str) -> list[str]:
    """The priorities a case of this type may have: Critical only on Report an Outage (an
    unknown type is offered no Critical)."""
    known = case_type if isinstance(case_type, CaseType) else _case_type(case_type)
    if known is None:
        return [p.value for p in Priority if p is not Priority.CRITICAL]
    return [p.value for p in Priority if priority_allowed(known, p)]


def _case_type(value: str) -> CaseType | None:
    try:
        return CaseType(value)
    except ValueError:
        return None


def submission_body(
    case_type: CaseType, form: Mapping[str, str | list[str]], fields: list[FieldSpec]
) -> dict[str, Any]:
    """The intake body from a submitted form: blank controls are left out, a checked box is
    true, the chosen areas are a list."""
    body: dict[str, Any] = {"case_type": case_type.value}
    for name in ("subject", "description", "priority", "account_id", "contact_id", "due_date"):
        if common := _one(form.get(name)):
            body[name] = common
    for spec in fields:
        value = form.get(spec.name)
        if spec.kind == "choices":
            body[spec.name] = [v for v in _many(value) if v]
        elif spec.kind in ("checkbox", "confirm"):
            if _one(value):
                body[spec.name] = True
        elif text := _one(value).strip():
            body[spec.name] = text
    return body


def _one(value: str | list[str] | None) -> str:
    if isinstance(value, list):
        return value[-1] if value else ""
    return value or ""


def _many(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def errors_by_field(issues: list[dict[str, str]]) -> dict[str, str]:
    """The first message for each form field an intake refusal names (`body` for the rest),
    worded with the field's label as the form shows it."""
    found: dict[str, str] = {}
    for issue in issues:
        field = str(issue.get("field", "")).split(".")[0].split("[")[0] or "body"
        message = str(issue.get("message", ""))
        label = LABELS.get(field, ("", ""))[0]
        if label and message.startswith(str(issue.get("field", field))):
            message = label + message[len(str(issue.get("field", field))) :]
        found.setdefault(field, message)
    return found


def in_form_order(errors: Mapping[str, str], fields: list[FieldSpec]) -> dict[str, str]:
    """The errors in the order their fields appear on the form (the rest last)."""
    order = ["account_id", "contact_id", "priority", "subject", "description"]
    order += [f.name for f in fields] + ["due_date"]
    rank = {name: i for i, name in enumerate(order)}
    return dict(sorted(errors.items(), key=lambda item: rank.get(item[0], len(order))))


# --- the case list ------------------------------------------------------------------------

COLUMNS = [
    Column("number", "Case Number"),
    Column("subject", "Subject"),
    Column("status", "Status"),
    Column("priority", "Priority"),
    Column("module", "Module"),
    Column("last_modified", "Last Modified"),
    Column("contact", "Contact"),
    Column("case_type", "Case Type"),
]
SUBJECT_OPS = [
    ("starts_with", "Starts with"),
    ("equals", "Equals"),
    ("not_equals", "Not equals"),
    ("ends_with", "Ends with"),
    ("contains", "Contains"),
    ("not_contains", "Does not contain"),
]
PAGE_SIZES = [10, 20, 50, 100, 200]
FILTERS = (
    "number",
    "subject",
    "subject_op",
    "status",
    "priority",
    "module",
    "case_type",
    "contact",
    "last_modified",
    "closed",
)
CHOICES: dict[str, list[str]] = {
    "status": [s.value for s in Status],
    "priority": [p.value for p in Priority],
    "module": [m.value for m in Module],
    "case_type": [t.value for t in CaseType],
}


def list_query(params: Mapping[str, str]) -> dict[str, str]:
    """The list's query as the URL holds it: only known, non-blank parameters."""
    keep = {*FILTERS, "sort", "order", "page", "page_size"}
    return {k: v.strip() for k, v in params.items() if k in keep and v.strip()}


def feed_params(query: Mapping[str, str]) -> dict[str, str]:
    """The feed API's parameters for a list query (a default operator is not sent alone)."""
    params = dict(query)
    if "subject" not in params:
        params.pop("subject_op", None)
    return params


def sort_link(query: Mapping[str, str], key: str) -> str:
    """The list URL sorted by `key`: the current column flips its order, another sorts down
    for dates and up for everything else, back on the first page."""
    current, order = query.get("sort", "last_modified"), query.get("order", "desc")
    if current == key:
        order = "asc" if order == "desc" else "desc"
    else:
        order = "desc" if key == "last_modified" else "asc"
    kept = {k: v for k, v in query.items() if k not in ("sort", "order", "page")}
    return "/cases?" + urlencode({**kept, "sort": key, "order": order})


def page_link(query: Mapping[str, str], page: int) -> str:
    """The list URL at another page, everything else kept."""
    return "/cases?" + urlencode({**query, "page": str(page)})


def aria_sort(query: Mapping[str, str], key: str) -> str | None:
    """`ascending`/`descending` for the column the list is sorted by."""
    if query.get("sort", "last_modified") != key:
        return None
    return "ascending" if query.get("order", "desc") == "asc" else "descending"


# --- attachments ------------------------------------------------------------------------

MAX_FILES = 10
MAX_FILE_BYTES = 15 * 2**20


def check_files(files: list[tuple[str, int]]) -> None:
    """The seed's limits, refused before anything is sent: up to 10 files of up to 15 MB."""
    if len(files) > MAX_FILES:
        raise Refused(
            f"{len(files)} files chosen: up to {MAX_FILES} can be attached at the same time", []
        )
    large = [name for name, size in files if size > MAX_FILE_BYTES]
    if large:
        raise Refused(
            f"{', '.join(large)}: over the 15 MB limit per file; attach a smaller file", []
        )


# --- times ------------------------------------------------------------------------------


def local(value: str | None, zone: str) -> str:
    """An API time (ISO 8601, UTC) as the portal shows it, in the district's time zone."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return local_time(moment, zone)


# --- sign-in ------------------------------------------------------------------------------


def safe_next(target: str | None) -> str:
    """A same-site path to return to after sign-in; anything else (another host, a scheme,
    `//evil`, a backslash trick) is the home page."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    return target


# --- Share an update: the post box's light markup -------------------------------------------

# The box takes plain text with a light markup (the toolbar writes the same): **bold**,
# *italic*, `code`, [text](https://link), lines starting with "- " or "1. " as lists. Everything
# is escaped first, so only the tags made here reach intake, whose allow-list sanitizer is the
# one that decides what a post may hold (the feed shows its output).
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?=\S)(.+?)(?<=\S)\*(?![*\w])")
_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\(((?:https?://|mailto:)[^\s()<>]+)\)")
_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s+(.*)$")


def _inline(text: str) -> str:
    """One escaped line with its bold, italic, code and links as tags."""
    codes: list[str] = []

    def keep_code(found: re.Match[str]) -> str:
        codes.append(f"<code>{found.group(1)}</code>")
        return f"\x00{len(codes) - 1}\x00"  # code is shown as written, no markup inside

    line = _CODE.sub(keep_code, html.escape(text, quote=True))
    line = _LINK.sub(r'<a href="\2">\1</a>', line)
    line = _ITALIC.sub(r"<em>\1</em>", _BOLD.sub(r"<strong>\1</strong>", line))
    return re.sub(r"\x00(\d+)\x00", lambda m: codes[int(m.group(1))], line)


def _kind(line: str) -> tuple[str, str]:
    """("ul" | "ol" | "p", the line's text without its list marker)."""
    for pattern, tag in ((_BULLET, "ul"), (_NUMBERED, "ol")):
        found = pattern.match(line)
        if found:
            return tag, found.group(1)
    return "p", line.strip()


def _block(lines: list[str]) -> str:
    """Runs of list items as lists, the lines between them as a paragraph."""
    out: list[str] = []
    for tag, run in itertools.groupby(map(_kind, lines), key=lambda kind: kind[0]):
        texts = [_inline(text) for _, text in run]
        if tag == "p":
            out.append("<p>" + "<br>".join(texts) + "</p>")
        else:
            out.append(f"<{tag}>" + "".join(f"<li>{t}</li>" for t in texts) + f"</{tag}>")
    return "".join(out)


def post_html(text: str) -> str:
    """The HTML sent to intake for what was typed in "Share an update" ("" stays "")."""
    blocks: list[list[str]] = [[]]
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return "".join(_block(lines) for lines in blocks if lines)
