"""District scoping, posts, attachments, recipients, close and reopen on the real stack."""

import hashlib
from datetime import datetime, time, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest

from intake.settings import Settings
from shared.enums import Status

CHICAGO = ZoneInfo("America/Chicago")
MIB = 2**20
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="module")
async def bayside_case(client: httpx.AsyncClient, kit: Any) -> dict[str, Any]:
    """A Bayside case owned by Zack Morris, with one attachment."""
    case = await kit.submit(client)
    files = [("files", ("shot.png", PNG, "image/png"))]
    posted = await client.post(
        f"/cases/{case['case_id']}/posts",
        data={"body": "<p>see</p>"},
        files=files,
        headers=kit.auth(kit.ZACK),
    )
    assert posted.status_code == 201, posted.text
    return {**case, "attachment_id": posted.json()["attachments"][0]["attachment_id"]}


def urls(case_id: str, attachment_id: str) -> list[tuple[str, str]]:
    """Every case URL of the API, with its method."""
    base = f"/cases/{case_id}"
    return [
        ("POST", f"{base}/posts"),
        ("GET", f"{base}/attachments"),
        ("GET", f"{base}/attachments/{attachment_id}"),
        ("POST", f"{base}/close"),
        ("POST", f"{base}/reopen"),
        ("GET", f"{base}/recipients"),
        ("POST", f"{base}/recipients"),
        ("DELETE", f"{base}/recipients?contact_id=zack-morris"),
    ]


BODIES: dict[str, dict[str, Any]] = {
    "/posts": {"data": {"body": "hi"}},
    "/close": {"json": {}},
    "/reopen": {"json": {"details": "x"}},
}


async def test_other_district_gets_404_everywhere(
    client: httpx.AsyncClient, kit: Any, bayside_case: dict[str, Any]
) -> None:
    """A Ridgemont contact gets 404 (never 403) for every URL of a Bayside case."""
    for method, url in urls(bayside_case["case_id"], bayside_case["attachment_id"]):
        extra: dict[str, Any] = next((v for k, v in BODIES.items() if url.endswith(k)), {})
        if url.endswith("/recipients") and method == "POST":
            extra = {"json": {"contact_ids": ["jeff-spicoli"]}}
        answer = await client.request(method, url, headers=kit.auth(kit.SPICOLI), **extra)
        assert answer.status_code == 404, (method, url, answer.text)
        assert answer.json()["title"] == "Not Found"


async def test_unknown_case_is_404(client: httpx.AsyncClient, kit: Any) -> None:
    """A case id that does not exist looks the same as another district's case."""
    answer = await client.get(f"/cases/{uuid4()}/attachments", headers=kit.auth(kit.ZACK))
    assert answer.status_code == 404


async def test_post_is_sanitized_and_published(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """A post's HTML is cut to the allow-list and published as PostAdded plus AttachmentAdded."""
    case = await kit.submit(client)
    html = '<p onclick="x()">Hi <script>alert(1)</script><a href="javascript:x">bad</a> <a href="https://ok.example">ok</a></p>'
    files = [
        ("files", ("notes.txt", b"plain notes\n", "text/plain")),
        ("files", ("shot.png", PNG, "image/png")),
    ]
    answer = await client.post(
        f"/cases/{case['case_id']}/posts",
        data={"body": html},
        files=files,
        headers=kit.auth(kit.LISA),
    )
    assert answer.status_code == 201, answer.text
    post = answer.json()
    assert "script" not in post["body_html"]
    assert "onclick" not in post["body_html"]
    assert "javascript" not in post["body_html"]
    assert 'href="https://ok.example" rel="noopener noreferrer nofollow"' in post["body_html"]
    types = [a["content_type"] for a in post["attachments"]]
    assert types == ["text/plain", "image/png"]
    events = await kit.case_events(intake_settings, case["case_id"])
    assert [e["type"] for e in events] == [
        "case.submitted",
        "case.post_added",
        "case.attachment_added",
        "case.attachment_added",
    ]
    assert events[1]["body_html"] == post["body_html"]


async def test_attachment_list_and_download(
    client: httpx.AsyncClient, kit: Any, bayside_case: dict[str, Any]
) -> None:
    """Any contact of the district lists attachments (sha256) and downloads them with nosniff."""
    base = f"/cases/{bayside_case['case_id']}/attachments"
    listed = await client.get(base, headers=kit.auth(kit.SCREECH))
    assert listed.status_code == 200
    assert listed.json()[0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    download = await client.get(
        f"{base}/{bayside_case['attachment_id']}", headers=kit.auth(kit.SCREECH)
    )
    assert download.status_code == 200
    assert download.content == PNG
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["content-type"] == "image/png"


async def test_read_only_cannot_post(
    client: httpx.AsyncClient, kit: Any, bayside_case: dict[str, Any]
) -> None:
    """A Read-Only contact gets 403 on posting."""
    answer = await client.post(
        f"/cases/{bayside_case['case_id']}/posts",
        data={"body": "hello"},
        headers=kit.auth(kit.SCREECH),
    )
    assert answer.status_code == 403


async def test_staff_can_post_to_any_case(
    client: httpx.AsyncClient, kit: Any, bayside_case: dict[str, Any]
) -> None:
    """Support staff post to any district's case."""
    answer = await client.post(
        f"/cases/{bayside_case['case_id']}/posts",
        data={"body": "resolution"},
        headers=kit.auth(kit.STAFF),
    )
    assert answer.status_code == 201


async def test_eleventh_attachment_is_refused(
    client: httpx.AsyncClient, kit: Any, bayside_case: dict[str, Any]
) -> None:
    """Eleven files in one post are refused with a message naming the limit of ten."""
    files = [("files", (f"f{i}.txt", b"x", "text/plain")) for i in range(11)]
    answer = await client.post(
        f"/cases/{bayside_case['case_id']}/posts",
        data={"body": "many"},
        files=files,
        headers=kit.auth(kit.ZACK),
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "files"
    assert "up to 10" in answer.json()["detail"]


async def test_file_of_15_mib_plus_one_byte_is_refused(
    client: httpx.AsyncClient, kit: Any, bayside_case: dict[str, Any]
) -> None:
    """A file of exactly 15 MiB is accepted and one byte more is refused with 413."""
    url = f"/cases/{bayside_case['case_id']}/posts"
    exact = await client.post(
        url,
        data={"body": "max"},
        files=[("files", ("max.bin", b"\x01" * (15 * MIB), "application/octet-stream"))],
        headers=kit.auth(kit.ZACK),
    )
    assert exact.status_code == 201, exact.text
    over = await client.post(
        url,
        data={"body": "over"},
        files=[("files", ("big.bin", b"\x01" * (15 * MIB + 1), "application/octet-stream"))],
        headers=kit.auth(kit.ZACK),
    )
    assert over.status_code == 413
    assert over.json()["errors"][0] == {
        "field": "files[0]",
        "rule": "max_size",
        "message": over.json()["errors"][0]["message"],
    }
    assert "15728640 bytes" in over.json()["detail"]


async def test_recipient_rules(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """The owner is a recipient from the start and stays; authorized contacts add colleagues."""
    case = await kit.submit(client)
    url = f"/cases/{case['case_id']}/recipients"
    start = await client.get(url, headers=kit.auth(kit.SCREECH))
    assert [(r["contact_id"], r["owner"]) for r in start.json()["recipients"]] == [
        ("zack-morris", True)
    ]
    added = await client.post(
        url, json={"contact_ids": ["lisa-turtle"]}, headers=kit.auth(kit.ZACK)
    )
    assert [r["contact_id"] for r in added.json()["recipients"]] == ["zack-morris", "lisa-turtle"]
    owner = await client.delete(
        url, params={"contact_id": "zack-morris"}, headers=kit.auth(kit.LISA)
    )
    assert owner.status_code == 422
    assert owner.json()["errors"][0]["rule"] == "not_owner"
    read_only = await client.post(
        url, json={"contact_ids": ["screech-powers"]}, headers=kit.auth(kit.ZACK)
    )
    assert read_only.status_code == 422
    assert read_only.json()["errors"][0]["rule"] == "not_read_only"
    stranger = await client.post(
        url, json={"contact_ids": ["jeff-spicoli"]}, headers=kit.auth(kit.ZACK)
    )
    assert stranger.status_code == 422
    events = await kit.case_events(intake_settings, case["case_id"])
    changes = [e for e in events if e["type"] == "case.recipients_changed"]
    assert [c["recipients"] for c in changes] == [["zack-morris", "lisa-turtle"]]


async def test_read_only_manages_only_themselves(client: httpx.AsyncClient, kit: Any) -> None:
    """A Read-Only contact may add and remove only themselves."""
    case = await kit.submit(client)
    url = f"/cases/{case['case_id']}/recipients"
    other = await client.post(
        url, json={"contact_ids": ["lisa-turtle"]}, headers=kit.auth(kit.SCREECH)
    )
    assert other.status_code == 403
    me = await client.post(
        url, json={"contact_ids": ["screech-powers"]}, headers=kit.auth(kit.SCREECH)
    )
    assert [r["contact_id"] for r in me.json()["recipients"]] == ["zack-morris", "screech-powers"]
    remove_owner = await client.delete(
        url, params={"contact_id": "zack-morris"}, headers=kit.auth(kit.SCREECH)
    )
    assert remove_owner.status_code == 403
    gone = await client.delete(
        url, params={"contact_id": "screech-powers"}, headers=kit.auth(kit.SCREECH)
    )
    assert [r["contact_id"] for r in gone.json()["recipients"]] == ["zack-morris"]


async def test_close_sends_command_and_read_only_cannot(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """An authorized contact's close is a CloseCase command (202); a Read-Only contact gets 403."""
    case = await kit.submit(client)
    refused = await client.post(
        f"/cases/{case['case_id']}/close", json={}, headers=kit.auth(kit.SCREECH)
    )
    assert refused.status_code == 403
    answer = await client.post(
        f"/cases/{case['case_id']}/close", json={"note": "fixed"}, headers=kit.auth(kit.LISA)
    )
    assert answer.status_code == 202
    commands = await kit.case_commands(intake_settings, case["case_id"])
    assert [(c["type"], c["event_id"]) for c in commands] == [
        ("case.close", answer.json()["command_id"])
    ]


async def test_reopen_within_and_after_window(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """Reopen is refused while open or 61 days after closing, and sent within 60 days."""
    case = await kit.submit(client)
    url = f"/cases/{case['case_id']}/reopen"
    open_case = await client.post(url, json={"details": "still broken"}, headers=kit.auth(kit.ZACK))
    assert open_case.status_code == 409
    await kit.set_status(client, intake_settings, case["case_id"], Status.CLOSED)
    cases = client._transport.app.state.intake.cases.collection  # type: ignore[attr-defined]
    long_ago = {"$set": {"closed_at": _days_ago_in_chicago(61)}}
    await cases.update_one({"_id": case["case_id"]}, long_ago)
    late = await client.post(url, json={"details": "still broken"}, headers=kit.auth(kit.ZACK))
    assert late.status_code == 409
    assert late.json()["errors"][0]["rule"] == "reopen_window"
    await cases.update_one(
        {"_id": case["case_id"]}, {"$set": {"closed_at": _days_ago_in_chicago(59)}}
    )
    no_details = await client.post(url, json={}, headers=kit.auth(kit.ZACK))
    assert no_details.status_code == 422
    assert no_details.json()["errors"][0]["field"] == "details"
    ok = await client.post(url, json={"details": "still broken"}, headers=kit.auth(kit.ZACK))
    assert ok.status_code == 202
    commands = await kit.case_commands(intake_settings, case["case_id"])
    assert [c["type"] for c in commands] == ["case.reopen"]


def _days_ago_in_chicago(days: int) -> datetime:
    """Noon, `days` calendar days ago in Bayside's zone (a fixed 24 h step crosses DST)."""
    today = datetime.now(CHICAGO).date()
    return datetime.combine(today - timedelta(days=days), time(12), CHICAGO)
