"""Audience: public notices on the public board; district notices never, nor district ids."""

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from shared.events import Notice, NoticeUpdated
from status_board.service import Board

T0 = datetime(2024, 7, 30, 18, 27, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"
Make = Callable[..., Notice]


def _hold(board: Board, *notices: Notice) -> None:
    for notice in notices:
        board.store.keep(NoticeUpdated(notice=notice, occurred_at=T0))
    board.heard()
    board.caught_up()
    board.refresh()


def _district_and_public(board: Board, make_notice: Make) -> None:
    district = make_notice(
        id="bayside-sis", title="Bayside SIS outage", affected_account_ids=["bayside"]
    )
    _hold(board, district, make_notice(id="mail", title="Mail delays"))


async def test_district_notice_is_not_on_the_public_page_or_banner(
    board: Board, public: httpx.AsyncClient, make_notice: Make
) -> None:
    """Only the public incident shows and counts; the district one is nowhere on the page."""
    _district_and_public(board, make_notice)
    page = (await public.get("/")).text
    assert "Mail delays" in page
    assert "Bayside SIS outage" not in page
    assert "bayside" not in page
    banner = (await public.get("/api/banner")).json()
    assert banner["counts"] == {"incidents": 1, "maintenance": 0, "open": 1}


async def test_district_only_incident_leaves_the_public_banner_clear(
    board: Board, public: httpx.AsyncClient, make_notice: Make
) -> None:
    """An incident aimed at one district does not turn the public board orange."""
    _hold(board, make_notice(id="bayside-sis", affected_account_ids=["bayside"]))
    banner = (await public.get("/api/banner")).json()
    assert (banner["state"], banner["colour"]) == ("clear", "gray")
    assert "INCIDENT IN PROGRESS" not in (await public.get("/")).text.upper()


async def test_public_json_and_atom_hold_no_district_notice_or_id(
    board: Board, public: httpx.AsyncClient, make_notice: Make
) -> None:
    """/api/notices lists only public notices, without affected_account_ids; Atom likewise."""
    _district_and_public(board, make_notice)
    for state in ("open", "closed", "all"):
        listed = await public.get("/api/notices", params={"state": state})
        assert "affected_account_ids" not in listed.text
        assert "bayside" not in listed.text
    assert [n["id"] for n in (await public.get("/api/notices")).json()["notices"]] == ["mail"]
    one = await public.get("/api/notices/mail")
    assert "affected_account_ids" not in one.json()
    feed = await public.get("/feed.atom")
    titles = [e.findtext(f"{ATOM}title") for e in ET.fromstring(feed.content).iter(f"{ATOM}entry")]
    assert titles == ["Incident: Mail delays (Investigating)"]


async def test_district_notice_pages_are_404(
    board: Board, public: httpx.AsyncClient, make_notice: Make
) -> None:
    """Asking for a district notice by id answers as for an unknown id."""
    _district_and_public(board, make_notice)
    for path in ("/notices/bayside-sis", "/api/notices/bayside-sis"):
        response = await public.get(path)
        assert response.status_code == 404
        assert "Bayside SIS outage" not in response.text


async def test_admin_still_sees_district_notices(
    board: Board, admin: httpx.AsyncClient, make_notice: Make
) -> None:
    """The admin API (behind its token) lists every notice with its districts."""
    _district_and_public(board, make_notice)
    listed = {n["id"]: n for n in (await admin.get("/admin/notices")).json()}
    assert listed["bayside-sis"]["affected_account_ids"] == ["bayside"]
