"""Case numbers work wherever a case id does, and the seed's "Server/Hardware" names a type."""

from typing import Any

import httpx
import pytest

from intake.settings import Settings
from shared.enums import Status

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="module")
async def numbered(client: httpx.AsyncClient, kit: Any) -> dict[str, Any]:
    """A Bayside case of Zack Morris, with a post and its attachment sent to the number."""
    case = await kit.submit(client)
    posted = await client.post(
        f"/cases/{case['case_number']}/posts",
        data={"body": "<p>screenshot attached</p>"},
        files=[("files", ("shot.png", PNG, "image/png"))],
        headers=kit.auth(kit.ZACK),
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["case_id"] == case["case_id"]
    return {**case, "attachment_id": posted.json()["attachments"][0]["attachment_id"]}


def urls(ref: str, attachment_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every case URL of the intake API, with its method and a valid body."""
    base = f"/cases/{ref}"
    return [
        ("POST", f"{base}/posts", {"data": {"body": "hello"}}),
        ("GET", f"{base}/attachments", {}),
        ("GET", f"{base}/attachments/{attachment_id}", {}),
        ("POST", f"{base}/close", {"json": {}}),
        ("POST", f"{base}/reopen", {"json": {"details": "still broken"}}),
        ("GET", f"{base}/recipients", {}),
        ("POST", f"{base}/recipients", {"json": {"contact_ids": ["lisa-turtle"]}}),
        ("DELETE", f"{base}/recipients?contact_id=lisa-turtle", {}),
    ]


async def test_reads_by_number_match_reads_by_id(
    client: httpx.AsyncClient, kit: Any, numbered: dict[str, Any]
) -> None:
    """Attachments, a download and the recipients read the same by 1000003-style number."""
    zack = kit.auth(kit.ZACK)
    number, case_id = numbered["case_number"], numbered["case_id"]
    for tail in ("/attachments", "/recipients", f"/attachments/{numbered['attachment_id']}"):
        by_number = await client.get(f"/cases/{number}{tail}", headers=zack)
        by_id = await client.get(f"/cases/{case_id}{tail}", headers=zack)
        assert by_number.status_code == 200, (tail, by_number.text)
        assert by_number.content == by_id.content
    listed = (await client.get(f"/cases/{number}/attachments", headers=zack)).json()
    assert [a["filename"] for a in listed] == ["shot.png"]


async def test_recipients_and_close_by_number(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """Lisa Turtle is added and removed, the case closed and reopened, all by its number."""
    zack = kit.auth(kit.ZACK)
    case = await kit.submit(client)
    number, case_id = case["case_number"], case["case_id"]
    added = await client.post(
        f"/cases/{number}/recipients", json={"contact_ids": ["lisa-turtle"]}, headers=zack
    )
    assert added.status_code == 200, added.text
    assert [r["contact_id"] for r in added.json()["recipients"]] == ["zack-morris", "lisa-turtle"]
    removed = await client.delete(
        f"/cases/{number}/recipients", params={"contact_id": "lisa-turtle"}, headers=zack
    )
    assert [r["contact_id"] for r in removed.json()["recipients"]] == ["zack-morris"]
    closed = await client.post(f"/cases/{number}/close", json={"note": "done"}, headers=zack)
    assert closed.status_code == 202, closed.text
    assert closed.json()["case_id"] == case_id
    commands = await kit.case_commands(intake_settings, case_id)
    assert [c["type"] for c in commands] == ["case.close"]
    await kit.set_status(client, intake_settings, case_id, Status.CLOSED)
    reopened = await client.post(
        f"/cases/{number}/reopen", json={"details": "the export fails again"}, headers=zack
    )
    assert reopened.status_code == 202, reopened.text
    assert reopened.json()["case_id"] == case_id


async def test_number_of_another_district_is_404_everywhere(
    client: httpx.AsyncClient, kit: Any, numbered: dict[str, Any]
) -> None:
    """Jeff Spicoli (Ridgemont) gets 404 for every URL of a Bayside case's number."""
    for method, url, extra in urls(str(numbered["case_number"]), numbered["attachment_id"]):
        answer = await client.request(method, url, headers=kit.auth(kit.SPICOLI), **extra)
        assert answer.status_code == 404, (method, url, answer.text)
        assert answer.json()["detail"].startswith(
            f"no case '{numbered['case_number']}' in your districts"
        )


@pytest.mark.parametrize(
    "ref",
    [
        "9223372036854775807",  # the largest number: no such case
        "9223372036854775808",  # past 64 bits
        "0",
        "-1000003",
        "\uff11\uff10\uff10\uff10\uff10\uff10\uff13",  # full-width 1000003
        "1000003.0",
        "Bayside-1000003",
        "9" * 5000,
    ],
)
async def test_unknown_or_malformed_refs_are_404_quoting_an_excerpt(
    client: httpx.AsyncClient, kit: Any, ref: str
) -> None:
    """Anything but a known number or id is a 404 that repeats at most 40 characters of it."""
    for method, url, extra in urls(ref, "65f0c0ffee0000000000beef"):
        answer = await client.request(method, url, headers=kit.auth(kit.ZACK), **extra)
        assert answer.status_code == 404, (method, url[:80], answer.text[:300])
        body = answer.json()
        assert answer.headers["content-type"] == "application/problem+json"
        assert len(body["detail"]) < 200
        assert "use a case number (e.g. 1000003) or a case id (UUID)" in body["detail"]


async def test_server_hardware_is_accepted_as_server_issue(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """case_type "Server/Hardware" (the seed's name) is stored and shown as "Server Issue"."""
    body = {**kit.body_for("Server Issue"), "case_type": "Server/Hardware"}
    answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
    assert answer.status_code == 201, answer.text
    assert answer.json()["case_type"] == "Server Issue"
    events = await kit.case_events(intake_settings, answer.json()["case_id"])
    submitted = [e for e in events if e["type"] == "case.submitted"]
    assert [e["details"]["case_type"] for e in submitted] == ["Server Issue"]


async def test_misspelt_server_hardware_is_still_refused(
    client: httpx.AsyncClient, kit: Any
) -> None:
    """Only the exact alias is accepted: "Server Hardware" stays a 422 naming case_type."""
    body = {**kit.body_for("Server Issue"), "case_type": "Server Hardware"}
    answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
    assert answer.status_code == 422, answer.text
    assert "case_type" in {e["field"] for e in answer.json()["errors"]}
