"""Uploads and posts on the real stack: no attachment runs in a browser, no remote image loads."""

from typing import Any

import httpx
import pytest

from intake.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
XML = b'<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>'
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
PIXEL = "https://tracker.example/pixel.gif?case=1&reader=2"
SANDBOX = "sandbox; default-src 'none'"


async def _post_files(
    client: httpx.AsyncClient, kit: Any, files: list[tuple[str, bytes, str]]
) -> tuple[str, list[dict[str, Any]]]:
    """Post the files to a new case; the case id and the stored attachments."""
    case = await kit.submit(client)
    answer = await client.post(
        f"/cases/{case['case_id']}/posts",
        data={"body": "<p>files</p>"},
        files=[("files", file) for file in files],
        headers=kit.auth(kit.ZACK),
    )
    assert answer.status_code == 201, answer.text
    return case["case_id"], answer.json()["attachments"]


async def _download(
    client: httpx.AsyncClient, kit: Any, case_id: str, attachment: dict[str, Any]
) -> httpx.Response:
    url = f"/cases/{case_id}/attachments/{attachment['attachment_id']}"
    answer = await client.get(url, headers=kit.auth(kit.LISA))
    assert answer.status_code == 200, answer.text
    return answer


@pytest.mark.parametrize(
    ("name", "content", "declared"),
    [
        ("page.html", HTML, "text/html"),
        ("feed.xml", XML, "text/xml"),
        ("logo.svg", SVG, "image/svg+xml"),
        ("run.js", b"alert(1)", "text/javascript"),
        ("mystery", b"\x00\x01binary", "application/x-unknown"),
    ],
    ids=["html", "xml", "svg", "javascript", "unknown"],
)
async def test_active_uploads_download_as_inert_bytes(
    client: httpx.AsyncClient, kit: Any, name: str, content: bytes, declared: str
) -> None:
    """HTML, XML, SVG, scripts and unknown files come back as octet-stream, sandboxed, attached."""
    case_id, stored = await _post_files(client, kit, [(name, content, declared)])
    download = await _download(client, kit, case_id, stored[0])
    assert download.content == content
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-security-policy"] == SANDBOX


async def test_harmless_uploads_keep_their_type_and_the_sandbox(
    client: httpx.AsyncClient, kit: Any
) -> None:
    """A PNG and a plain-text file keep their types, still as sandboxed attachments."""
    case_id, stored = await _post_files(
        client, kit, [("shot.png", PNG, "image/png"), ("notes.txt", b"plain\n", "text/plain")]
    )
    png, text = [await _download(client, kit, case_id, a) for a in stored]
    assert png.headers["content-type"] == "image/png"
    assert text.headers["content-type"].split(";")[0] == "text/plain"
    for download in (png, text):
        assert download.headers["content-disposition"].startswith("attachment;")
        assert download.headers["x-content-type-options"] == "nosniff"
        assert download.headers["content-security-policy"] == SANDBOX


async def test_remote_image_becomes_a_link_in_the_post_and_its_event(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """`<img src=https://…>` is published as a link reading [image: …], never as an image."""
    case = await kit.submit(client)
    body = f'<p>see <img src="{PIXEL.replace("&", "&amp;")}" alt="chart"></p>'
    answer = await client.post(
        f"/cases/{case['case_id']}/posts", data={"body": body}, headers=kit.auth(kit.ZACK)
    )
    assert answer.status_code == 201, answer.text
    events = await kit.case_events(intake_settings, case["case_id"])
    (post,) = [e for e in events if e["type"] == "case.post_added"]
    for html in (answer.json()["body_html"], post["body_html"]):
        assert "<img" not in html
        assert f'<a href="{PIXEL.replace("&", "&amp;")}"' in html
        assert f"[image: {PIXEL.replace('&', '&amp;')}]</a>" in html
    assert post["body_text"] == f"see [image: {PIXEL}]"


async def test_inline_image_stays_an_image(client: httpx.AsyncClient, kit: Any) -> None:
    """An inline PNG (a data: URL, nothing to fetch) is kept as an image."""
    case = await kit.submit(client)
    body = '<p><img src="data:image/png;base64,iVBORw0KGgo=" alt="inline"></p>'
    answer = await client.post(
        f"/cases/{case['case_id']}/posts", data={"body": body}, headers=kit.auth(kit.ZACK)
    )
    assert answer.status_code == 201, answer.text
    assert '<img src="data:image/png;base64,iVBORw0KGgo="' in answer.json()["body_html"]
