"""The real process's fast path: the served stack's headers and one access line per answer.

The process answers snapshot hits in front of the access log and the security-header
middleware; those answers must still carry the security headers and the request id, and
still get an access line with the access log's fields (preformatted JSON lines, written in
batches), while misses go through the full stack and its access log.
"""

import json
from pathlib import Path
from typing import Any

from shared.http import SECURITY_HEADERS
from tests.integration.status_board.conftest import BoardFactory, BoardProcess


def _access_lines(board: BoardProcess) -> list[dict[str, Any]]:
    log = board.data_dir.parent / f"{board.replica}-{board.port}.log"
    lines = [json.loads(line) for line in Path(log).read_text().splitlines() if line[:1] == "{"]
    return [line for line in lines if line.get("logger") == "shared.access"]


def test_fast_answers_carry_the_headers_and_are_logged(start_board: BoardFactory) -> None:
    """Hits (200, 304, HEAD) and a miss: security headers, request id, an access line each."""
    board = start_board(extra_env={"LOG_FORMAT": "json"})
    with board.admin() as admin:
        body = {"id": "outage", "title": "Login outage", "body": "Users cannot sign in."}
        assert admin.post("/admin/incidents", json=body).status_code == 201
    with board.public() as public:
        page = public.get("/notifications", headers={"X-Request-ID": "fast-page-1"})
        etag = page.headers["etag"]
        again = public.get("/", headers={"If-None-Match": etag, "X-Request-ID": "fast-304-1"})
        head = public.head("/api/notices/outage", headers={"X-Request-ID": "fast-head-1"})
        miss = public.get("/notices/nope", headers={"X-Request-ID": "slow-miss-1"})
        fresh = public.get("/feed.atom")
    assert (page.status_code, again.status_code, head.status_code) == (200, 304, 200)
    assert miss.status_code == 404
    assert "Login outage" in page.text
    assert head.content == b""
    assert int(head.headers["content-length"]) > 0
    assert head.headers["access-control-allow-origin"] == "*"
    for response in (page, again, head, miss, fresh):
        for name, value in SECURITY_HEADERS:
            assert response.headers[name.decode()] == value.decode(), (response.url, name)
    ids = [r.headers["x-request-id"] for r in (page, again, head, miss)]
    assert ids == ["fast-page-1", "fast-304-1", "fast-head-1", "slow-miss-1"]
    assert len(fresh.headers["x-request-id"]) == 32  # none sent: a fresh one

    assert board.stop() == 0  # the held lines are written at shutdown
    lines = {line["request_id"]: line for line in _access_lines(board)}
    expected = {
        "fast-page-1": ("GET", "/notifications", 200),
        "fast-304-1": ("GET", "/", 304),
        "fast-head-1": ("HEAD", "/api/notices/{notice_id}", 200),
        "slow-miss-1": ("GET", "/notices/{notice_id}", 404),
        fresh.headers["x-request-id"]: ("GET", "/feed.atom", 200),
    }
    assert {
        rid: (lines[rid]["method"], lines[rid]["route"], lines[rid]["status"]) for rid in expected
    } == expected
    for rid in expected:
        line = lines[rid]
        assert (line["level"], line["service"], line["caller_kind"]) == (
            "INFO",
            "status_board",
            None,
        )
        assert isinstance(line["duration_ms"], float | int)
        assert line["msg"].startswith(f"{line['method']} {line['route']} {line['status']} ")
