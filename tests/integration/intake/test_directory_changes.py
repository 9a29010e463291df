"""Staff change the directory through intake's API on the real stack (Kafka, Mongo): add,
modify and replace a contact, the refusals as problem details, and a key that is used twice.

Each test works in a district of its own, so the seed's districts stay as other tests expect.
"""

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from intake.admin import DirectoryAdmin
from intake.seed import publish_directory
from shared.enums import ActorKind, TokenScope
from shared.events import Account, AnyDirectoryEvent


def admin_of(app: FastAPI) -> DirectoryAdmin:
    """The directory administration over the in-process intake's own store and publisher."""
    intake = app.state.intake

    async def publish(events: list[AnyDirectoryEvent]) -> int:
        return await publish_directory(
            events, intake.topics.directory, intake.directory, intake.publisher
        )

    return DirectoryAdmin(intake.directory, publish)


async def district(app: FastAPI) -> str:
    """A new district, through the directory administration."""
    account_id = f"dc-{uuid.uuid4().hex[:8]}"
    await admin_of(app).save_account(Account(id=account_id, name=f"District {account_id}"))
    return account_id


def person(account_id: str, first: str, last: str, **extra: Any) -> dict[str, Any]:
    """A contact's fields as a Modify Support Contacts case gives them."""
    return {
        "account_id": account_id,
        "first_name": first,
        "last_name": last,
        "email": f"{first}.{last}.{account_id}@example.org".lower(),
        "title": "Systems Administrator",
        "primary_phone": "555-0142",
        "contact_type": "Technical",
        "areas_of_responsibility": ["SIS", "Finance"],
        **extra,
    }


async def listed(client: httpx.AsyncClient, kit: Any, account_id: str) -> list[str]:
    """The ids the district's recipient picker lists (as staff see it)."""
    answer = await client.get(
        "/directory/contacts", params={"account_id": account_id}, headers=kit.auth(kit.STAFF)
    )
    assert answer.status_code == 200, answer.text
    return [c["contact_id"] for c in answer.json()["contacts"]]


async def test_contacts_cannot_change_the_directory(
    client: httpx.AsyncClient, kit: Any, intake_app: FastAPI
) -> None:
    """Zack (Authorized Support) asks with a case; the API answers him 403, staff only."""
    account_id = await district(intake_app)
    answer = await client.post(
        "/directory/contacts", json=person(account_id, "Kelly", "K"), headers=kit.auth(kit.ZACK)
    )
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "only staff change the directory" in answer.json()["detail"]
    assert await listed(client, kit, account_id) == []


async def test_staff_add_once_per_key_and_an_email_is_one_contacts(
    client: httpx.AsyncClient, kit: Any, intake_app: FastAPI
) -> None:
    """Staff add Kelly: she is in the picker; the same key again changes nothing and says
    so; another add with her email is a 409 naming her."""
    account_id = await district(intake_app)
    kelly = person(account_id, "Kelly", "Kapowski")
    key = {"Idempotency-Key": f"case-{uuid.uuid4()}"}
    added = await client.post(
        "/directory/contacts", json=kelly, headers={**kit.auth(kit.STAFF), **key}
    )
    assert added.status_code == 201, added.text
    assert added.json()["change"] == "added"
    assert added.json()["replayed"] is False
    kelly_id = added.json()["contact"]["contact_id"]
    assert kelly_id.startswith("kelly-kapowski")  # from her name
    assert await listed(client, kit, account_id) == [kelly_id]

    again = await client.post(
        "/directory/contacts", json=kelly, headers={**kit.auth(kit.STAFF), **key}
    )
    assert again.status_code == 201, again.text
    assert again.json()["replayed"] is True
    assert await listed(client, kit, account_id) == [kelly_id]

    twice = await client.post("/directory/contacts", json=kelly, headers=kit.auth(kit.STAFF))
    assert twice.status_code == 409, twice.text
    problem = twice.json()
    assert problem["errors"][0]["field"] == "email"
    assert f"already belongs to the contact Kelly Kapowski ({kelly_id})" in problem["detail"]


async def test_staff_modify_the_fields_given(
    client: httpx.AsyncClient, kit: Any, intake_app: FastAPI
) -> None:
    """A new phone for Kelly changes that field only; a contact the district does not have is
    a 404, and another contact's email a 409."""
    account_id = await district(intake_app)
    staff = kit.auth(kit.STAFF)
    ids = []
    for first in ("Kelly", "Jessie"):
        made = await client.post(
            "/directory/contacts", json=person(account_id, first, "Spano"), headers=staff
        )
        assert made.status_code == 201, made.text
        ids.append(made.json()["contact"]["contact_id"])
    changed = await client.patch(
        f"/directory/contacts/{ids[0]}",
        json={
            "account_id": account_id,
            "primary_phone": "555-0199",
            "title": "Systems Administrator",
        },
        headers=staff,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["changed_fields"] == ["primary_phone"]
    assert changed.json()["contact"]["primary_phone"] == "555-0199"
    assert changed.json()["contact"]["areas_of_responsibility"] == ["SIS", "Finance"]

    missing = await client.patch(
        "/directory/contacts/nobody-here", json={"account_id": account_id}, headers=staff
    )
    assert missing.status_code == 404, missing.text
    assert missing.json()["errors"][0]["field"] == "contact_id"
    assert "no active contact 'nobody-here'" in missing.json()["detail"]

    taken = person(account_id, "Jessie", "Spano")["email"]
    clash = await client.patch(
        f"/directory/contacts/{ids[0]}",
        json={"account_id": account_id, "email": taken},
        headers=staff,
    )
    assert clash.status_code == 409, clash.text


async def test_replace_deactivates_and_revokes_the_old_contacts_tokens(
    client: httpx.AsyncClient, kit: Any, intake_app: FastAPI
) -> None:
    """Kelly replaces Lisa (retired): Lisa leaves the picker, her token no longer
    authenticates, and the answer names the revoked token."""
    account_id = await district(intake_app)
    staff = kit.auth(kit.STAFF)
    lisa = await client.post(
        "/directory/contacts", json=person(account_id, "Lisa", "Turtle"), headers=staff
    )
    assert lisa.status_code == 201, lisa.text
    old_id = lisa.json()["contact"]["contact_id"]
    issued = await admin_of(intake_app).issue_token(
        ActorKind.CONTACT, old_id, [TokenScope.READ, TokenScope.WRITE], None
    )
    token = {"Authorization": f"Bearer {issued.secret}"}
    assert (await client.get("/directory/contacts", headers=token)).status_code == 200

    replaced = await client.post(
        "/directory/contacts",
        json=person(account_id, "Kelly", "Kapowski", replaces=old_id),
        headers=staff,
    )
    assert replaced.status_code == 201, replaced.text
    shown = replaced.json()
    assert (shown["change"], shown["replaced"]["contact_id"]) == ("replaced", old_id)
    assert shown["replaced"]["active"] is False
    assert shown["revoked_token_ids"] == [issued.record.token_id]
    assert await listed(client, kit, account_id) == [shown["contact"]["contact_id"]]
    assert (await client.get("/directory/contacts", headers=token)).status_code == 401

    again = await client.post(
        "/directory/contacts",
        json=person(account_id, "Jessie", "Spano", replaces=old_id),
        headers=staff,
    )
    assert again.status_code == 404, again.text  # Lisa is gone: nobody to replace
