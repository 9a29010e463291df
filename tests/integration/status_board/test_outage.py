"""With Kafka and Mongo down, the real process serves the last known content after a restart."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from tests.integration.status_board.conftest import BoardFactory, BoardProcess

ATOM = "{http://www.w3.org/2005/Atom}"


def _write_content(board: BoardProcess) -> None:
    start = datetime.now(UTC) + timedelta(days=14)
    with board.admin() as admin:
        created = admin.post(
            "/admin/incidents",
            json={"id": "outage", "title": "Login outage", "body": "Users cannot sign in."},
        )
        assert created.status_code == 201, created.text
        update = {"body": "Fix deployed, watching.", "status": "Monitoring"}
        assert admin.post("/admin/notices/outage/updates", json=update).status_code == 200
        old = {"id": "digicert", "title": "Digicert Incident", "body": "Reissued."}
        assert admin.post("/admin/incidents", json=old).status_code == 201
        assert admin.post("/admin/notices/digicert/resolve", json={}).status_code == 200
        maintenance = {
            "id": "upgrade",
            "title": "Database upgrade",
            "body": "Planned.",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
        }
        assert admin.post("/admin/maintenance", json=maintenance).status_code == 201


def _check_content(board: BoardProcess) -> None:
    with board.public() as public:
        page = public.get("/")
        assert page.status_code == 200
        assert "Login outage" in page.text
        assert "Fix deployed, watching." in page.text
        assert "Database upgrade" in page.text
        closed = public.get("/notifications", params={"tab": "closed"})
        assert closed.status_code == 200
        assert "Digicert Incident" in closed.text
        feed = public.get("/feed.atom")
        assert feed.status_code == 200
        assert len(ET.fromstring(feed.content).findall(f"{ATOM}entry")) == 3
        listed = public.get("/api/notices").json()
        assert sorted(n["id"] for n in listed["notices"]) == ["digicert", "outage", "upgrade"]
        assert public.get("/notices/outage").status_code == 200


def test_last_known_content_survives_restart_with_upstreams_down(
    start_board: BoardFactory,
) -> None:
    """Content written through the admin API is served again, at once, after a restart."""
    board = start_board()
    _write_content(board)
    _check_content(board)
    assert board.stop() == 0
    board.start()
    _check_content(board)
    with board.public() as public:
        banner = public.get("/api/banner").json()
        ready = public.get("/readyz")
    assert (banner["colour"], banner["state"], banner["stale"]) == ("orange", "incident", True)
    assert banner["counts"] == {"incidents": 1, "maintenance": 1, "open": 2}
    assert ready.status_code == 200


def test_never_received_anything_says_unknown(start_board: BoardFactory) -> None:
    """A fresh board that cannot reach Kafka shows status unknown, not an all clear."""
    board = start_board()
    with board.public() as public:
        banner = public.get("/api/banner").json()
        page = public.get("/").text
    assert (banner["colour"], banner["state"]) == ("yellow", "unknown")
    assert "Status unknown" in page
    assert "Live updates unavailable" in page


def test_sigterm_stops_both_ports_cleanly(start_board: BoardFactory) -> None:
    """SIGTERM ends the process with code 0."""
    assert start_board().stop() == 0
