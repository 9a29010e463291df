"""Break-glass admin API: token, create, update, resolve, maintenance; each write is outboxed."""

import json
from datetime import UTC, datetime, timedelta

import httpx

from shared.events import NOTICE_EVENTS, NoticePublished, NoticeResolved, NoticeUpdated
from status_board.service import Board
from tests.unit.status_board.conftest import FakeClock

T0 = datetime(2024, 7, 30, 18, 27, tzinfo=UTC)
INCIDENT = {"id": "digicert", "title": "Digicert Incident", "body": "Reissuing certificates."}


def _events(board: Board) -> list[object]:
    return [NOTICE_EVENTS.validate_json(row.payload) for row in board.store.pending()]


async def test_token_is_required(admin: httpx.AsyncClient) -> None:
    """Without the admin bearer token nothing is written."""
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": ""}):
        response = await admin.post("/admin/incidents", json=INCIDENT, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


async def test_created_incident_shows_at_once_and_waits_in_outbox(
    board: Board, admin: httpx.AsyncClient, public: httpx.AsyncClient
) -> None:
    """A new incident is on the page immediately and one Published event waits for Kafka."""
    response = await admin.post("/admin/incidents", json=INCIDENT)
    assert response.status_code == 201
    assert response.json()["starts_at"] == "2024-07-30T18:27:00Z"
    assert "Digicert Incident" in (await public.get("/")).text
    assert (await public.get("/api/banner")).json()["colour"] == "orange"
    [event] = _events(board)
    assert isinstance(event, NoticePublished)
    assert event.notice.id == "digicert"


async def test_same_id_twice_is_a_conflict(admin: httpx.AsyncClient) -> None:
    """Creating an existing id is refused with a hint to change it instead."""
    await admin.post("/admin/incidents", json=INCIDENT)
    again = await admin.post("/admin/incidents", json=INCIDENT)
    assert again.status_code == 409
    assert "PATCH" in again.json()["detail"]


async def test_update_then_resolve(
    board: Board, admin: httpx.AsyncClient, public: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Updates are timestamped and newest first; resolve closes it and moves it to Closed."""
    await admin.post("/admin/incidents", json=INCIDENT)
    clock.advance(minutes=30)
    update = {"body": "Half the domains are done.", "status": "Identified"}
    assert (await admin.post("/admin/notices/digicert/updates", json=update)).status_code == 200
    clock.advance(minutes=28)
    done = await admin.post("/admin/notices/digicert/resolve", json={"body": "All done."})
    notice = done.json()
    assert (notice["status"], notice["revision"], notice["ends_at"]) == (
        "Resolved",
        3,
        "2024-07-30T19:25:00Z",
    )
    assert [u["body"] for u in notice["updates"]] == ["All done.", "Half the domains are done."]
    kinds = [type(event) for event in _events(board)]
    assert kinds == [NoticePublished, NoticeUpdated, NoticeResolved]
    closed = (await public.get("/notifications?tab=closed")).text
    assert "Digicert Incident" in closed
    assert "02:25 PM CDT" in closed


async def test_patch_changes_times_and_checks_them(admin: httpx.AsyncClient) -> None:
    """PATCH changes fields; an end before the start is refused with the reason."""
    await admin.post("/admin/incidents", json=INCIDENT)
    later = (T0 + timedelta(hours=1)).isoformat()
    patched = await admin.patch("/admin/notices/digicert", json={"title": "DigiCert revocation"})
    assert patched.json()["title"] == "DigiCert revocation"
    bad = await admin.patch(
        "/admin/notices/digicert", json={"starts_at": later, "ends_at": T0.isoformat()}
    )
    assert bad.status_code == 422
    assert "ends_at" in bad.json()["detail"]


async def test_wrong_status_for_kind_is_refused(admin: httpx.AsyncClient) -> None:
    """An incident cannot be created as Scheduled."""
    response = await admin.post("/admin/incidents", json=INCIDENT | {"status": "Scheduled"})
    assert response.status_code == 422
    assert "cannot be" in response.json()["detail"]


async def test_resolving_twice_is_refused(admin: httpx.AsyncClient) -> None:
    """A closed notice cannot be resolved again."""
    await admin.post("/admin/incidents", json=INCIDENT)
    await admin.post("/admin/notices/digicert/resolve", json={})
    again = await admin.post("/admin/notices/digicert/resolve", json={})
    assert again.status_code == 422
    assert "already" in again.json()["detail"]


async def test_unknown_notice_is_404(admin: httpx.AsyncClient) -> None:
    """Changing a notice that does not exist says so."""
    response = await admin.post("/admin/notices/nope/updates", json={"body": "x"})
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


async def test_invalid_body_is_422_with_field(admin: httpx.AsyncClient) -> None:
    """A body missing required fields names them."""
    response = await admin.post("/admin/maintenance", json={"title": "Upgrade"})
    assert response.status_code == 422
    assert all(field in response.text for field in ("body", "starts_at", "ends_at"))


async def test_maintenance_posted_ahead_is_green(
    admin: httpx.AsyncClient, public: httpx.AsyncClient
) -> None:
    """Maintenance announced two weeks ahead is Scheduled and the banner is green."""
    start = T0 + timedelta(days=14)
    body = {
        "id": "upgrade",
        "title": "Database upgrade",
        "body": "Short outage expected.",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
    }
    response = await admin.post("/admin/maintenance", json=body)
    assert response.status_code == 201
    assert response.json()["status"] == "Scheduled"
    banner = (await public.get("/api/banner")).json()
    assert (banner["colour"], banner["label"]) == ("green", "Scheduled maintenance")


async def test_outbox_status(admin: httpx.AsyncClient) -> None:
    """The admin can see how many events still wait for Kafka."""
    await admin.post("/admin/incidents", json=INCIDENT)
    body = (await admin.get("/admin/outbox")).json()
    assert (body["pending"], body["sent"], body["last_heard"]) == (1, 0, None)


async def test_admin_lists_notices(admin: httpx.AsyncClient) -> None:
    """The admin reads what it wrote."""
    await admin.post("/admin/incidents", json=INCIDENT)
    listed = (await admin.get("/admin/notices")).json()
    assert [notice["id"] for notice in listed] == ["digicert"]
    assert json.loads((await admin.get("/admin/notices/digicert")).text)["revision"] == 1
