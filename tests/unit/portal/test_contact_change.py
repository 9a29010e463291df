"""A Modify Support Contacts case mapped to a directory change: add, modify or replace, each
from 001's Case Fields of that case type, against the district's contacts."""

from typing import Any

import pytest
from portal import contact_change
from portal.contact_change import plan, record_text, recorded

from shared.cases import ModifySupportContacts
from shared.events import Contact
from tests import seed_facts

CASE_TYPE = "Modify Support Contacts"
# The fields every case type has (001: "Displays on Case Types: All") and the request type:
# none of them is a field of the contact.
NOT_CONTACT = {"account_id", "contact_id", "priority", "subject", "description", "due_date"}


def contact(contact_id: str, first: str, last: str, email: str, **extra: Any) -> Contact:
    """A Bayside contact."""
    values: dict[str, Any] = {
        "id": contact_id,
        "first_name": first,
        "last_name": last,
        "email": email,
        "title": "Systems Administrator",
        "primary_phone": "555-0100",
        "contact_type": "Technical",
        "areas_of_responsibility": ["SIS"],
        "account_ids": ["bayside"],
    }
    return Contact.model_validate({**values, **extra})


LISA = contact("lisa-turtle", "Lisa", "Turtle", "lisa.turtle@bayside.example")
ZACK = contact(
    "zack-morris",
    "Zack",
    "Morris",
    "zack.morris@bayside.example",
    contact_type="Authorized Support",
)
GONE = contact("kelly-old", "Kelly", "Kapowski", "old.kelly@bayside.example", active=False)
SPICOLI = contact(
    "jeff-spicoli", "Jeff", "Spicoli", "jeff@ridgemont.example", account_ids=["ridgemont"]
)
DISTRICTS = [LISA, ZACK, GONE, SPICOLI]


def case_fields(request_type: str, **extra: Any) -> dict[str, Any]:
    """A Modify Support Contacts form as the contact submits it (checked by the shared model)."""
    fields: dict[str, Any] = {
        "case_type": CASE_TYPE,
        "request_type": request_type,
        "contact_first_name": "Kelly",
        "contact_last_name": "Kapowski",
        "contact_email": "kelly.kapowski@bayside.example",
        "contact_title": "Systems Administrator",
        "contact_primary_phone": "555-0142",
        "contact_secondary_phone": None,
        "contact_type": "Technical",
        "areas_of_responsibility": ["SIS", "Finance"],
        "contact_replacement_name": None,
        **extra,
    }
    return ModifySupportContacts.model_validate(fields).model_dump(mode="json")


def test_every_contact_field_of_the_seed_form_is_mapped() -> None:
    """Each field 001 lists for Modify Support Contacts, besides Request Type and the fields
    of every case type, is read by the mapping, under the label the seed gives it."""
    seed = seed_facts.form_fields(CASE_TYPE) - NOT_CONTACT - {"request_type"}
    assert {name for name, _, _ in contact_change.CASE_FIELDS} == seed
    labels = {name: label for label, name in seed_facts.API_NAMES.items()}
    assert {name: label for name, label, _ in contact_change.CASE_FIELDS} == {
        name: labels[name] for name in seed
    }


def test_the_request_types_are_the_seeds() -> None:
    """001: 'the contact being added, modified, or replaced': three request types, each
    mapped."""
    for request_type, verb in (("Add", "added"), ("Modify", "modified"), ("Replace", "replaced")):
        fields = case_fields(request_type, contact_replacement_name="Lisa Turtle")
        assert plan(fields, "bayside", DISTRICTS).verb == verb


def test_add_creates_the_entered_contact_in_the_district() -> None:
    """Add: one POST with every entered field, for the case's district."""
    change = plan(case_fields("Add"), "bayside", DISTRICTS)
    assert change.problem is None
    assert change.request() == (
        "POST",
        "/directory/contacts",
        {
            "account_id": "bayside",
            "first_name": "Kelly",
            "last_name": "Kapowski",
            "email": "kelly.kapowski@bayside.example",
            "title": "Systems Administrator",
            "primary_phone": "555-0142",
            "secondary_phone": None,
            "contact_type": "Technical",
            "areas_of_responsibility": ["SIS", "Finance"],
        },
    )
    assert ("support access", None, "Technical") in [
        (f.label, f.before, f.after) for f in change.changes
    ]
    assert ("Contact Email", "kelly.kapowski@bayside.example") in change.entered
    assert ("Contact Secondary Phone", "—") in change.entered


def test_modify_finds_the_contact_by_email_and_sends_what_was_entered() -> None:
    """Modify: Lisa (found by her email) gets a new phone and Finance; her empty secondary
    phone is left as it is; the panel lists only the fields that differ."""
    fields = case_fields(
        "Modify",
        contact_first_name="Lisa",
        contact_last_name="Turtle",
        contact_email="lisa.turtle@bayside.example",
        contact_primary_phone="555-0199",
    )
    change = plan(fields, "bayside", DISTRICTS)
    assert change.target == LISA
    method, path, body = change.request()
    assert (method, path) == ("PATCH", "/directory/contacts/lisa-turtle")
    assert "secondary_phone" not in body
    assert body["primary_phone"] == "555-0199"
    assert body["account_id"] == "bayside"
    assert [(f.name, f.before, f.after) for f in change.changes] == [
        ("primary_phone", "555-0100", "555-0199"),
        ("areas_of_responsibility", "SIS", "SIS, Finance"),
    ]


def test_modify_finds_the_contact_by_name_when_the_email_is_new() -> None:
    """Modify with a new email: Lisa Turtle is found by her first and last name."""
    fields = case_fields(
        "Modify",
        contact_first_name="lisa",
        contact_last_name="TURTLE",
        contact_email="lisa@bayside.example",
    )
    change = plan(fields, "bayside", DISTRICTS)
    assert change.target == LISA
    assert ("email", "lisa.turtle@bayside.example", "lisa@bayside.example") in [
        (f.name, f.before, f.after) for f in change.changes
    ]


def test_modify_of_no_such_contact_cannot_be_applied() -> None:
    """Modify of someone the district does not have (an inactive contact, another district's
    contact) says there is no contact to modify, and sends nothing."""
    for first, last, email in (
        ("Kelly", "Kapowski", "old.kelly@bayside.example"),
        ("Jeff", "Spicoli", "jeff@ridgemont.example"),
    ):
        fields = case_fields(
            "Modify", contact_first_name=first, contact_last_name=last, contact_email=email
        )
        change = plan(fields, "bayside", DISTRICTS)
        assert change.problem is not None
        assert "no contact to modify" in change.problem
        with pytest.raises(ValueError, match="no contact to modify"):
            change.request()


def test_replace_removes_the_named_contact_and_creates_the_entered_one() -> None:
    """Replace: 'Contact Replacement Name' names Lisa (by name or email); the POST creates
    Kelly and replaces Lisa."""
    for named in ("Lisa Turtle", "  lisa   turtle ", "lisa.turtle@bayside.example"):
        change = plan(case_fields("Replace", contact_replacement_name=named), "bayside", DISTRICTS)
        assert change.target == LISA, named
        method, path, body = change.request()
        assert (method, path) == ("POST", "/directory/contacts")
        assert body["replaces"] == "lisa-turtle"
        assert body["email"] == "kelly.kapowski@bayside.example"


def test_replace_of_nobody_cannot_be_applied() -> None:
    """A replacement name no active contact of the district has is refused by the mapping."""
    for named in ("Jeff Spicoli", "Kelly Kapowski", "Nobody"):
        change = plan(case_fields("Replace", contact_replacement_name=named), "bayside", DISTRICTS)
        assert change.problem is not None, named
        assert "no one to replace" in change.problem, named


def test_two_contacts_of_one_name_are_not_guessed_between() -> None:
    """Two active Lisa Turtles: the mapping names both ids and applies neither."""
    twin = contact("lisa-turtle-2", "Lisa", "Turtle", "lt2@bayside.example")
    change = plan(
        case_fields("Replace", contact_replacement_name="Lisa Turtle"),
        "bayside",
        [*DISTRICTS, twin],
    )
    assert change.problem is not None
    assert "lisa-turtle, lisa-turtle-2" in change.problem


def test_the_recorded_post_says_what_was_applied() -> None:
    """The public post names the contact, their email and support access; a replacement names
    whom it replaced; it is found again in the feed only as a staff post."""
    kelly = {
        "name": "Kelly Kapowski",
        "email": "kelly.kapowski@bayside.example",
        "contact_type": "Technical",
        "areas_of_responsibility": ["SIS", "Finance"],
    }
    lisa = {"name": "Lisa Turtle", "email": "lisa.turtle@bayside.example"}
    added = record_text({"change": "added", "contact": kelly})
    assert added == (
        "Applied to the directory: added Kelly Kapowski (kelly.kapowski@bayside.example), "
        "support access Technical, areas of responsibility SIS, Finance."
    )
    replaced = record_text({"change": "replaced", "contact": kelly, "replaced": lisa})
    assert "replacing Lisa Turtle (lisa.turtle@bayside.example)" in replaced
    modified = record_text(
        {"change": "modified", "contact": kelly, "changed_fields": ["primary_phone"]}
    )
    assert "modified Kelly Kapowski (kelly.kapowski@bayside.example): primary phone" in modified

    def feed(kind: str) -> dict[str, Any]:
        item = {"kind": "post", "actor": {"kind": kind, "name": "X"}, "body_text": added}
        return {"feed": {"items": [item]}}

    assert recorded(feed("staff")) is not None
    assert recorded(feed("contact")) is None  # a contact cannot mark the case applied
