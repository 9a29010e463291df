"""The public side: tabs, banner, times, Atom, JSON, ETag/304, caching and real 404s."""

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from shared.enums import NoticeKind, NoticeStatus
from shared.events import Notice, NoticeUpdate, NoticeUpdated
from status_board.api import public_router
from status_board.service import Board
from tests.unit.status_board.conftest import FakeClock

T0 = datetime(2024, 7, 30, 18, 27, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"
Make = Callable[..., Notice]


def _hold(board: Board, *notices: Notice) -> None:
    for notice in notices:
        board.store.keep(NoticeUpdated(notice=notice, occurred_at=T0))
    board.heard()
    board.caught_up()
    board.refresh()


def _digicert(make: Make) -> Notice:
    update = NoticeUpdate(
        at=T0 + timedelta(minutes=58), status=NoticeStatus.RESOLVED, body="All domains updated."
    )
    return make(
        id="digicert",
        status=NoticeStatus.RESOLVED,
        ends_at=T0 + timedelta(minutes=58),
        updates=[update],
    )


async def test_open_tab_is_marked_and_shows_open_incident(
    board: Board, public: httpx.AsyncClient, make_notice: Make
) -> None:
    """/ shows the open tab marked as current, both tabs as real links, and an orange banner."""
    _hold(board, make_notice(id="outage", title="Login outage"), _digicert(make_notice))
    page = (await public.get("/")).text
    assert 'href="/notifications?tab=open" class="tab current" aria-current="page"' in page
    assert 'href="/notifications?tab=closed" class="tab"' in page
    assert "banner-orange" in page
    assert "Incident in progress" in page
    assert "Login outage" in page
    assert "Digicert Incident" not in page


async def test_closed_tab_shows_times_in_portal_zone_and_updates(
    board: Board, public: httpx.AsyncClient, make_notice: Make
) -> None:
    """Closed shows start, end, status and timestamped updates in Central time with the zone."""
    _hold(board, _digicert(make_notice))
    page = (await public.get("/notifications", params={"tab": "closed"})).text
    assert 'class="tab current" aria-current="page">Closed Notifications' in page
    assert "Jul 30, 2024, 01:27 PM CDT" in page
    assert "Jul 30, 2024, 02:25 PM CDT" in page
    assert "RESOLVED UPDATE:" in page
    assert "All domains updated." in page
    assert "banner-gray" in page
    assert "No open notifications" in page


async def test_text_is_escaped(board: Board, public: httpx.AsyncClient, make_notice: Make) -> None:
    """Notice text is autoescaped, never markup."""
    _hold(board, make_notice(title="<script>x()</script>", body="a <b>b</b>"))
    page = (await public.get("/")).text
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "&lt;b&gt;" in page


async def test_page_has_no_script_and_no_third_party_assets(public: httpx.AsyncClient) -> None:
    """The page works without JavaScript and loads nothing from elsewhere."""
    page = (await public.get("/")).text
    assert "<script" not in page
    assert "src=" not in page
    assert "stylesheet" not in page


async def test_unknown_when_nothing_ever_received(public: httpx.AsyncClient) -> None:
    """An empty store that never reached Kafka says status unknown, not all clear."""
    banner = (await public.get("/api/banner")).json()
    assert (banner["colour"], banner["state"], banner["stale"]) == ("yellow", "unknown", True)
    page = (await public.get("/")).text
    assert "Status unknown" in page
    assert "No open notifications" not in page


async def test_stale_board_keeps_content_and_says_since_when(
    board: Board, public: httpx.AsyncClient, make_notice: Make, clock: FakeClock
) -> None:
    """After 60 s without Kafka the last content stays and a delay notice appears."""
    _hold(board, make_notice(id="m", kind=NoticeKind.MAINTENANCE, status=NoticeStatus.SCHEDULED))
    assert "Live updates delayed" not in (await public.get("/")).text
    clock.advance(seconds=61)
    page = (await public.get("/")).text
    assert "Live updates delayed since Jul 30, 2024, 01:27 PM CDT" in page
    banner = (await public.get("/api/banner")).json()
    assert (banner["colour"], banner["stale"], banner["counts"]["maintenance"]) == (
        "green",
        True,
        1,
    )
    assert banner["delayed_since"] == "2024-07-30T18:27:00Z"


async def test_banner_endpoint_for_the_portal(
    board: Board, public: httpx.AsyncClient, make_notice: Make
) -> None:
    """/api/banner gives colour, label, link to the notifications page and counts."""
    maintenance = make_notice(id="m", kind=NoticeKind.MAINTENANCE, status=NoticeStatus.SCHEDULED)
    _hold(board, make_notice(id="i"), maintenance)
    response = await public.get("/api/banner")
    body = response.json()
    assert (body["colour"], body["label"]) == ("orange", "Incident in progress")
    assert body["link"] == "http://status.test/notifications"
    assert body["counts"] == {"incidents": 1, "maintenance": 1, "open": 2}
    assert body["stale"] is False
    assert response.headers["access-control-allow-origin"] == "*"


async def test_atom_feed_has_one_entry_per_notification(
    board: Board, public: httpx.AsyncClient, make_notice: Make
) -> None:
    """/feed.atom is valid XML with an entry for each open and closed notice."""
    _hold(board, make_notice(id="a"), make_notice(id="b"), _digicert(make_notice))
    response = await public.get("/feed.atom")
    assert response.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 3
    links = sorted(link.get("href", "") for e in entries for link in e.iter(f"{ATOM}link"))
    assert links == [f"http://status.test/notices/{i}" for i in ("a", "b", "digicert")]
    assert all(e.find(f"{ATOM}updated") is not None for e in entries)


async def test_json_lists_by_state(
    board: Board, public: httpx.AsyncClient, make_notice: Make
) -> None:
    """/api/notices?state= filters open and closed; no state lists all."""
    _hold(board, make_notice(id="a"), _digicert(make_notice))
    opened = (await public.get("/api/notices", params={"state": "open"})).json()
    closed = (await public.get("/api/notices", params={"state": "closed"})).json()
    every = (await public.get("/api/notices")).json()
    assert [n["id"] for n in opened["notices"]] == ["a"]
    assert [n["id"] for n in closed["notices"]] == ["digicert"]
    assert every["count"] == 2
    one = (await public.get("/api/notices/digicert")).json()
    assert (one["id"], one["status"], one["revision"]) == ("digicert", "Resolved", 1)


async def test_notice_page(board: Board, public: httpx.AsyncClient, make_notice: Make) -> None:
    """/notices/{id} shows one notice with its updates."""
    _hold(board, _digicert(make_notice))
    response = await public.get("/notices/digicert")
    assert response.status_code == 200
    assert "Digicert Incident" in response.text
    assert "All domains updated." in response.text


@pytest.mark.parametrize(
    "path", ["/", "/notifications?tab=closed", "/feed.atom", "/api/banner", "/api/notices"]
)
async def test_etag_and_304(public: httpx.AsyncClient, path: str) -> None:
    """Every public body has an ETag and a short public cache life; a match answers 304."""
    first = await public.get(path)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=15"
    again = await public.get(path, headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    other = await public.get(path, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


async def test_etag_changes_with_content(
    board: Board, public: httpx.AsyncClient, make_notice: Make
) -> None:
    """A change to the notices gives a new ETag, so a cached copy is refetched."""
    before = (await public.get("/")).headers["etag"]
    _hold(board, make_notice())
    response = await public.get("/", headers={"If-None-Match": before})
    assert response.status_code == 200
    assert response.headers["etag"] != before


async def test_html_404s(public: httpx.AsyncClient) -> None:
    """Unknown pages and notices answer a real 404 HTML page with the banner."""
    for path in ("/notices/nope", "/no/such/page"):
        response = await public.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "Not found" in response.text
        assert "banner" in response.text


async def test_json_404s(public: httpx.AsyncClient) -> None:
    """Unknown API resources answer JSON 404s that say what to do."""
    for path in ("/api/notices/nope", "/api/nothing"):
        response = await public.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].endswith("json")
        assert response.json()
    assert "/api/notices" in (await public.get("/api/notices/nope")).text


async def test_bad_state_is_explained(public: httpx.AsyncClient) -> None:
    """An unknown state is a 422 naming the accepted values."""
    response = await public.get("/api/notices", params={"state": "maybe"})
    assert response.status_code == 422
    assert "open, closed, all" in response.json()["detail"]


async def test_ops_routes(public: httpx.AsyncClient) -> None:
    """/healthz, /readyz (store readable) and /metrics answer on the public port."""
    assert (await public.get("/healthz")).json() == {"status": "ok"}
    ready = (await public.get("/readyz")).json()
    assert ready == {"status": "ready", "checks": {"store": True}}
    assert "status_board_outbox_pending" in (await public.get("/metrics")).text


async def test_head_is_answered(public: httpx.AsyncClient) -> None:
    """Uptime checkers may use HEAD."""
    response = await public.head("/")
    assert response.status_code == 200
    assert response.headers["etag"]


@pytest.mark.parametrize(
    "path", ["/", "/notifications", "/notices/x", "/feed.atom", "/api/banner", "/api/notices/x"]
)
async def test_other_methods_are_told_get_and_head(public: httpx.AsyncClient, path: str) -> None:
    """A POST or DELETE to a public read is a 405 whose Allow names both GET and HEAD."""
    for method in ("POST", "DELETE"):
        response = await public.request(method, path)
        assert response.status_code == 405, (method, path)
        allowed = {value.strip() for value in response.headers["allow"].split(",")}
        assert allowed == {"GET", "HEAD"}, (method, path)
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/", "/notifications?tab=closed", "/api/notices?state=open"])
async def test_routes_behind_the_fast_path_serve_the_same_bytes(
    board: Board, public: httpx.AsyncClient, path: str
) -> None:
    """The FastAPI routes (OpenAPI, slow path) answer exactly what the fast path answers."""
    plain = FastAPI()
    plain.include_router(public_router(board))
    transport = httpx.ASGITransport(app=plain)
    async with httpx.AsyncClient(transport=transport, base_url="http://status.test") as slow:
        routed, fast = await slow.get(path), await public.get(path)
        again = await slow.get(path, headers={"If-None-Match": fast.headers["etag"]})
    assert (routed.content, routed.headers["etag"]) == (fast.content, fast.headers["etag"])
    assert again.status_code == 304


async def test_held_control_characters_never_break_the_feed(
    board: Board, public: httpx.AsyncClient, make_notice: Make
) -> None:
    """A notice held with control characters (from before they were refused) gives valid XML."""
    update = NoticeUpdate(at=T0, status=NoticeStatus.IDENTIFIED, body="found \x00it\x1b")
    _hold(board, make_notice(id="ctrl", title="ctrl \u0001\u000b", updates=[update]))
    feed = await public.get("/feed.atom")
    [entry] = ET.fromstring(feed.content).findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "Incident: ctrl  (Investigating)"
    assert "found it" in (entry.findtext(f"{ATOM}content") or "")
    for path in ("/", "/notices/ctrl"):
        page = (await public.get(path)).text
        assert "ctrl " in page
        assert not any(char in page for char in "\x00\x01\x0b\x1b")
