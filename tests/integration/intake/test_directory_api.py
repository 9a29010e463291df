"""The directory API on the real stack: a district's contacts, a department's staff, and
recipients named by id with every bad id reported at once."""

from typing import Any

import httpx

# The seed's Bayside contacts (deploy/seed/directory.json), by name, as pickers show them.
BAYSIDE = [
    ("ac-slater", "Albert Slater (TESTING)", "Implementation", "ac.slater@bayside.example"),
    ("lisa-turtle", "Lisa Turtle (TESTING)", "Technical", "lisa.turtle@bayside.example"),
    ("screech-powers", "Samuel Powers (TESTING)", "Read-Only", "screech.powers@bayside.example"),
    ("zack-morris", "Zack Morris (TESTING)", "Authorized Support", "zack.morris@bayside.example"),
]


def rows(answer: httpx.Response) -> list[tuple[str, str, str, str | None]]:
    """The contacts of a directory answer as (id, name, type, email)."""
    assert answer.status_code == 200, answer.text
    return [
        (c["contact_id"], c["name"], c["contact_type"], c["email"])
        for c in answer.json()["contacts"]
    ]


async def test_contact_lists_their_district_with_emails(
    client: httpx.AsyncClient, kit: Any
) -> None:
    """Zack Morris sees Bayside School's four contacts, by name, with their emails."""
    answer = await client.get("/directory/contacts", headers=kit.auth(kit.ZACK))
    assert rows(answer) == BAYSIDE
    assert answer.json()["account_id"] == "bayside"
    assert answer.json()["account_name"] == "Bayside School (TESTING)"


async def test_search_by_name(client: httpx.AsyncClient, kit: Any) -> None:
    """?q= keeps the people whose name holds every word, whatever the case."""
    zack = kit.auth(kit.ZACK)
    lisa = await client.get("/directory/contacts", params={"q": "lisa"}, headers=zack)
    assert rows(lisa) == [BAYSIDE[1]]
    both = await client.get("/directory/contacts", params={"q": "TURTLE testing"}, headers=zack)
    assert rows(both) == [BAYSIDE[1]]
    none = await client.get("/directory/contacts", params={"q": "Kelly"}, headers=zack)
    assert rows(none) == []


async def test_other_districts_are_refused_and_emails_stay_in_the_district(
    client: httpx.AsyncClient, kit: Any
) -> None:
    """Jeff Spicoli cannot list Bayside; staff list it without the district's emails."""
    refused = await client.get(
        "/directory/contacts", params={"account_id": "bayside"}, headers=kit.auth(kit.SPICOLI)
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "account_id"
    staff = await client.get(
        "/directory/contacts", params={"account_id": "bayside"}, headers=kit.auth(kit.STAFF)
    )
    assert rows(staff) == [(i, n, t, None) for i, n, t, _ in BAYSIDE]
    ridgemont = await client.get("/directory/contacts", headers=kit.auth(kit.SPICOLI))
    assert rows(ridgemont) == [
        ("ac-slater", "Albert Slater (TESTING)", "Implementation", "ac.slater@bayside.example"),
        (
            "jeff-spicoli",
            "Jeff Spicoli (TESTING)",
            "Authorized Support",
            "jeff.spicoli@ridgemont.example",
        ),
    ]


async def test_contact_of_two_districts_names_one(client: httpx.AsyncClient, kit: Any) -> None:
    """A.C. Slater (Bayside and Ridgemont) must say which district; an unknown one is 422."""
    slater = kit.auth(kit.SLATER)
    unnamed = await client.get("/directory/contacts", headers=slater)
    assert unnamed.status_code == 422, unnamed.text
    named = await client.get(
        "/directory/contacts", params={"account_id": "bayside"}, headers=slater
    )
    assert [r[0] for r in rows(named)] == [r[0] for r in BAYSIDE]


async def test_staff_list_a_department(client: httpx.AsyncClient, kit: Any) -> None:
    """Campus Support's active staff, by name; a contact is refused and a bad slug is 404."""
    staff = kit.auth(kit.STAFF)
    answer = await client.get("/directory/departments/campus-support/staff", headers=staff)
    assert answer.status_code == 200, answer.text
    assert answer.json()["department"] == "Campus Support"
    assert [(s["staff_id"], s["name"], s["on_duty"]) for s in answer.json()["staff"]] == [
        ("staff-lead", "Morgan Lead", False),
        ("staff-support", "Pat Support", True),
        ("staff-supervisor", "Sky Supervisor", False),
    ]
    pat = await client.get(
        "/directory/departments/campus-support/staff", params={"q": "pat"}, headers=staff
    )
    assert [s["email"] for s in pat.json()["staff"]] == ["pat.support@vendor.example"]
    contact = await client.get(
        "/directory/departments/campus-support/staff", headers=kit.auth(kit.ZACK)
    )
    assert contact.status_code == 403, contact.text
    unknown = await client.get(f"/directory/departments/{'x' * 300}/staff", headers=staff)
    assert unknown.status_code == 404
    assert len(unknown.json()["detail"]) < 300
    slug = await client.get("/directory/departments/campus/staff", headers=staff)
    assert slug.status_code == 404, slug.text
    assert "campus-support" in slug.json()["detail"]


async def test_every_bad_recipient_id_is_reported_at_once(
    client: httpx.AsyncClient, kit: Any
) -> None:
    """A name, a Ridgemont contact and an unknown id are three errors; nothing is added."""
    zack = kit.auth(kit.ZACK)
    case = await kit.submit(client)
    url = f"/cases/{case['case_id']}/recipients"
    wanted = ["Lisa Turtle", "lisa-turtle", "jeff-spicoli", "kelly-kapowski"]
    answer = await client.post(url, json={"contact_ids": wanted}, headers=zack)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    errors = answer.json()["errors"]
    assert [(e["field"], e["message"].split(";")[0]) for e in errors] == [
        ("contact_ids[0]", "no contact with id 'Lisa Turtle' in Bayside School (TESTING)"),
        ("contact_ids[2]", "no contact with id 'jeff-spicoli' in Bayside School (TESTING)"),
        ("contact_ids[3]", "no contact with id 'kelly-kapowski' in Bayside School (TESTING)"),
    ]
    listed = await client.get(url, headers=zack)
    assert [r["contact_id"] for r in listed.json()["recipients"]] == ["zack-morris"]
    fixed = await client.post(url, json={"contact_ids": ["lisa-turtle"]}, headers=zack)
    assert [(r["contact_id"], r["name"]) for r in fixed.json()["recipients"]] == [
        ("zack-morris", "Zack Morris (TESTING)"),
        ("lisa-turtle", "Lisa Turtle (TESTING)"),
    ]
