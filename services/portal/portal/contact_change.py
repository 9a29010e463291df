"""A Modify Support Contacts case applied to the directory: what the contact asked for (add,
modify or replace, with 001's contact fields), the directory change it maps to, and applying
that change through intake's directory API as the signed-in staff member.

The portal writes no database: intake makes the change (POST /directory/contacts, PATCH
/directory/contacts/{id}) and records it on the case as a public post. The Idempotency-Key of
both is derived from the case, so a second apply changes nothing a second time.
"""

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from portal.api import TEMPLATES
from portal.errors import CaseNotFound, Forbidden, Refused
from shared.enums import ActorKind, CaseType, ContactChangeRequestType
from shared.events import Contact, StaffMember

Json = dict[str, Any]

# What the post recording an applied change starts with; the panel finds it in the feed.
RECORD_PREFIX = "Applied to the directory:"

# 001's Case Fields of a Modify Support Contacts case, in the form's order: the case's field,
# the seed's label, and the directory field it fills (None: it picks the contact to remove).
CASE_FIELDS: tuple[tuple[str, str, str | None], ...] = (
    ("contact_first_name", "Contact First Name", "first_name"),
    ("contact_last_name", "Contact Last Name", "last_name"),
    ("contact_email", "Contact Email", "email"),
    ("contact_title", "Contact Title", "title"),
    ("contact_primary_phone", "Contact Primary Phone", "primary_phone"),
    ("contact_secondary_phone", "Contact Secondary Phone", "secondary_phone"),
    ("contact_type", "Contact Type", "contact_type"),
    ("areas_of_responsibility", "Area of Responsibility", "areas_of_responsibility"),
    ("contact_replacement_name", "Contact Replacement Name", None),
)
# The directory field's name as the panel and the recorded post say it.
LABELS = {
    "first_name": "first name",
    "last_name": "last name",
    "email": "email",
    "title": "title",
    "primary_phone": "primary phone",
    "secondary_phone": "secondary phone",
    "contact_type": "support access",
    "areas_of_responsibility": "areas of responsibility",
}


@dataclass(frozen=True)
class FieldChange:
    """One directory field: its value before (none for a new contact) and after."""

    name: str
    before: str | None
    after: str

    @property
    def label(self) -> str:
        """How the panel names the field."""
        return LABELS[self.name]


@dataclass(frozen=True)
class ContactChange:
    """The directory change a Modify Support Contacts case asks for.

    `problem` says why it cannot be applied as entered (then there is nothing to send).
    """

    request_type: ContactChangeRequestType
    account_id: str
    entered: list[tuple[str, str]]
    fields: Json
    target: Contact | None = None
    changes: list[FieldChange] = field(default_factory=list)
    problem: str | None = None

    @property
    def verb(self) -> str:
        """added, modified or replaced."""
        return {"Add": "added", "Modify": "modified", "Replace": "replaced"}[self.request_type]

    def request(self) -> tuple[str, str, Json]:
        """The intake call that makes the change: method, path and JSON body."""
        if self.problem is not None:
            raise ValueError(self.problem)
        if self.request_type is ContactChangeRequestType.MODIFY:
            assert self.target is not None
            return "PATCH", f"/directory/contacts/{self.target.id}", self._modify_body()
        body = {**self.fields, "account_id": self.account_id}
        if self.request_type is ContactChangeRequestType.REPLACE:
            assert self.target is not None
            body["replaces"] = self.target.id
        return "POST", "/directory/contacts", body

    def _modify_body(self) -> Json:
        # A field the case leaves empty (the optional secondary phone) keeps its value.
        kept = {k: v for k, v in self.fields.items() if v is not None}
        return {**kept, "account_id": self.account_id}


def is_contact_change(case: Mapping[str, Any]) -> bool:
    """Whether the case is a Modify Support Contacts case."""
    return case.get("case_type") == CaseType.MODIFY_SUPPORT_CONTACTS.value


def _shown(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _same_name(contact: Contact, name: str) -> bool:
    return " ".join(contact.display_name.split()).casefold() == " ".join(name.split()).casefold()


def _of_district(contacts: Iterable[Contact], account_id: str) -> list[Contact]:
    found = [c for c in contacts if c.active and account_id in c.account_ids]
    return sorted(found, key=lambda c: c.id)


def _one(found: list[Contact], what: str) -> tuple[Contact | None, str | None]:
    if len(found) == 1:
        return found[0], None
    if not found:
        return None, what
    ids = ", ".join(c.id for c in found)
    return None, f"{len(found)} active contacts match ({ids}); modify the directory by hand"


def plan(details: Mapping[str, Any], account_id: str, contacts: Iterable[Contact]) -> ContactChange:
    """The directory change the case's fields ask for, against the district's contacts now.

    Add: a new contact of the district with the entered fields. Modify: the district's active
    contact with the entered email, else with the entered first and last name, gets the
    entered fields. Replace: the active contact named in Contact Replacement Name (their name,
    email or id) is removed (deactivated, tokens revoked) and the entered contact created.
    """
    request_type = ContactChangeRequestType(details["request_type"])
    entered = [("Request Type", request_type.value)] + [
        (label, _shown(details.get(name))) for name, label, _ in CASE_FIELDS
    ]
    fields: Json = {to: details.get(name) for name, _, to in CASE_FIELDS if to is not None}
    fields["areas_of_responsibility"] = list(fields.get("areas_of_responsibility") or [])
    district = _of_district(contacts, account_id)
    base = ContactChange(request_type, account_id, entered, fields)
    if request_type is ContactChangeRequestType.ADD:
        return _with_changes(base, None)
    if request_type is ContactChangeRequestType.MODIFY:
        email = str(fields.get("email") or "").casefold()
        by_email = [c for c in district if str(c.email).casefold() == email]
        name = f"{fields.get('first_name') or ''} {fields.get('last_name') or ''}"
        candidates = by_email or [c for c in district if _same_name(c, name)]
        what = (
            f"no active contact of this district has the email {fields.get('email')} or the "
            f"name {' '.join(name.split())}: there is no contact to modify (an Add case adds one)"
        )
        target, problem = _one(candidates, what)
    else:
        wanted = str(details.get("contact_replacement_name") or "").strip()
        candidates = [
            c
            for c in district
            if _same_name(c, wanted) or str(c.email).casefold() == wanted.casefold()
        ] or [c for c in district if c.id == wanted]
        what = f"no active contact of this district is named {wanted!r}: there is no one to replace"
        target, problem = _one(candidates, what)
    if problem is not None:
        return ContactChange(request_type, account_id, entered, fields, problem=problem)
    return _with_changes(ContactChange(request_type, account_id, entered, fields, target), target)


def _with_changes(change: ContactChange, target: Contact | None) -> ContactChange:
    """The field-by-field change: every entered field for a new contact, the differing ones
    for a modified contact."""
    modify = change.request_type is ContactChangeRequestType.MODIFY
    found = []
    for name, after in change.fields.items():
        if modify and after is None:
            continue  # left empty: kept
        before = _shown(getattr(target, name)) if modify and target is not None else None
        if before == _shown(after):
            continue
        found.append(FieldChange(name, before, _shown(after)))
    return ContactChange(
        change.request_type,
        change.account_id,
        change.entered,
        change.fields,
        change.target,
        found,
    )


def record_text(answer: Mapping[str, Any]) -> str:
    """The public post recording what intake applied, from intake's answer."""
    contact = answer["contact"]
    who = f"{contact['name']} ({contact['email']})"
    access = f"support access {contact['contact_type']}"
    areas = ", ".join(contact.get("areas_of_responsibility") or []) or "none"
    if answer["change"] == "modified":
        changed = ", ".join(LABELS.get(f, f) for f in answer.get("changed_fields") or [])
        what = f"modified {who}: {changed or 'nothing differed'}; {access}"
    elif answer["change"] == "replaced":
        old = answer["replaced"]
        what = (
            f"added {who}, {access}, areas of responsibility {areas}, replacing "
            f"{old['name']} ({old['email']}), whose access has ended"
        )
    else:
        what = f"added {who}, {access}, areas of responsibility {areas}"
    return f"{RECORD_PREFIX} {what}."


def recorded(case: Mapping[str, Any]) -> Json | None:
    """The feed item of the post that recorded the applied change, if the feed shows it."""
    for item in (case.get("feed") or {}).get("items") or []:
        by_staff = (item.get("actor") or {}).get("kind") == ActorKind.STAFF.value
        text = str(item.get("body_text") or item.get("body_html") or "")
        if item.get("kind") == "post" and by_staff and text.lstrip().startswith(RECORD_PREFIX):
            return dict(item)
    return None


def idempotency_key(case_id: str, what: str) -> str:
    """The key of the case's one directory change, or of the post that records it."""
    return f"contact-change:{case_id}:{what}"


@dataclass(frozen=True)
class Panel:
    """What the staff case page's contact change panel shows."""

    change: ContactChange
    applied: Json | None


def panel(directory_contacts: Iterable[Contact], case: Mapping[str, Any]) -> Panel | None:
    """The panel of a Modify Support Contacts case (none for any other case)."""
    if not is_contact_change(case) or not case.get("details"):
        return None
    change = plan(case["details"], str(case["account_id"]), directory_contacts)
    return Panel(change, recorded(case))


def panel_for(request: Request, case: Mapping[str, Any]) -> Panel | None:
    """The panel for the staff case page's template, over the portal's directory view."""
    if not is_contact_change(case):
        return None
    return panel(request.app.state.staff.directory.contacts.values(), case)


TEMPLATES.env.globals["contact_change_panel"] = panel_for


async def apply(staff: Any, member: StaffMember, ref: str) -> str:
    """Apply the case's change through intake as `member` and record it on the case; returns
    `applied` or `already` (the change was made before: nothing changes twice).

    `staff` is the StaffPortal (its directory view and its intake client). Intake's refusal
    comes back as Refused with intake's own explanation.
    """
    case, _ = await staff.case(member, ref)
    if not is_contact_change(case):
        raise CaseNotFound("this case asks for no directory change")
    if recorded(case) is not None:
        return "already"
    change = plan(case["details"], str(case["account_id"]), staff.directory.contacts.values())
    if change.problem is not None:
        raise Refused(change.problem, [], 409)
    method, path, body = change.request()
    case_id = str(case["case_id"])
    headers = {"Idempotency-Key": idempotency_key(case_id, "directory")}
    try:
        answer: Json = await staff.api.call(
            "intake", method, member, path, json=body, headers=headers
        )
    except (CaseNotFound, Forbidden) as exc:  # intake's 404 and 403 explain themselves
        raise Refused(str(exc), [], 409) from exc
    post = f"<p>{html.escape(record_text(answer))}</p>"
    await staff.api.call(
        "intake",
        "POST",
        member,
        f"/cases/{case_id}/posts",
        data={"body": post},
        headers={"Idempotency-Key": idempotency_key(case_id, "record")},
    )
    return "already" if answer.get("replayed") else "applied"
