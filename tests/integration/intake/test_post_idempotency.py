"""Posts with an Idempotency-Key on the real stack: a retry gets the first answer, adds nothing."""

from typing import Any

import httpx

from intake.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _post(kit: Any, body: str, key: str, content: bytes = PNG) -> dict[str, Any]:
    return {
        "data": {"body": body},
        "files": [("files", ("shot.png", content, "image/png"))],
        "headers": {**kit.auth(kit.ZACK), "Idempotency-Key": key},
    }


async def test_retried_post_returns_first_answer_and_adds_nothing(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """The same post sent twice with one key: one answer, one PostAdded, one attachment."""
    case = await kit.submit(client)
    url = f"/cases/{case['case_id']}/posts"
    first = await client.post(url, **_post(kit, "<p>see the shot</p>", "post-1"))
    again = await client.post(url, **_post(kit, "<p>see the shot</p>", "post-1"))
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    events = await kit.case_events(intake_settings, case["case_id"])
    assert [e["type"] for e in events] == [
        "case.submitted",
        "case.post_added",
        "case.attachment_added",
    ]
    listed = await client.get(f"/cases/{case['case_id']}/attachments", headers=kit.auth(kit.ZACK))
    assert [a["attachment_id"] for a in listed.json()] == [
        first.json()["attachments"][0]["attachment_id"]
    ]


async def test_post_key_reused_with_other_content_is_422(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """A key reused for another text or another file is refused, and nothing more is posted."""
    case = await kit.submit(client)
    url = f"/cases/{case['case_id']}/posts"
    first = await client.post(url, **_post(kit, "<p>one</p>", "post-2"))
    other_text = await client.post(url, **_post(kit, "<p>two</p>", "post-2"))
    other_file = await client.post(url, **_post(kit, "<p>one</p>", "post-2", PNG + b"x"))
    assert first.status_code == 201, first.text
    assert [other_text.status_code, other_file.status_code] == [422, 422]
    assert other_text.json()["errors"][0]["rule"] == "same_body"
    events = await kit.case_events(intake_settings, case["case_id"])
    assert [e["type"] for e in events].count("case.post_added") == 1


async def test_posts_without_a_key_are_each_added(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """Without a key, the same post sent twice is two posts."""
    case = await kit.submit(client)
    url = f"/cases/{case['case_id']}/posts"
    for _ in range(2):
        answer = await client.post(url, data={"body": "<p>hi</p>"}, headers=kit.auth(kit.ZACK))
        assert answer.status_code == 201, answer.text
    events = await kit.case_events(intake_settings, case["case_id"])
    assert [e["type"] for e in events].count("case.post_added") == 2
