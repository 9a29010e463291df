"""Slow and oversized requests against the real processes (issue 13, item 13).

Before: 20 trickling uploads were all held open with no body-read timeout, and a 100 KB
header got no answer. The processes here run with HTTP_BODY_TIMEOUT_S=2 and
HTTP_BODY_MIN_RATE=4096 (conftest.LIMITS), so a trickle must be cut off within seconds.
"""

import asyncio
from urllib.parse import urlsplit
from uuid import uuid4

import httpx
import pytest

from tests.integration.platform.conftest import BOARD_TOKEN, Processes

ZACK = "local-dev-only-zack-morris-token"
TRICKLES = 20
GIVE_UP_S = 30.0  # far past the 2 s allowed: the old code never answers at all
HEADER = "a" * 100_000  # the 100 KB header

PROCESSES = ["intake", "routing", "feed", "notify", "status-board", "status-board-admin"]


def _port(processes: Processes, name: str) -> int:
    port = urlsplit(processes.urls[name]).port
    assert port is not None
    return port


@pytest.mark.parametrize("name", [*PROCESSES, "mailbox"])
def test_a_100_kb_header_gets_431(processes: Processes, name: str) -> None:
    """A 100 KB header is answered 431 with a problem document that says what to do."""
    response = httpx.get(f"{processes.urls[name]}/healthz", headers={"X-Padding": HEADER})
    assert response.status_code == 431
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["connection"] == "close"
    problem = response.json()
    assert problem["status"] == 431
    assert "headers are over 32768 bytes" in problem["detail"]
    assert HEADER[:100] not in response.text  # no echo of the input


def _upload_head(host: str) -> bytes:
    """A post with one attachment declared at 1 MB, whose bytes then come one at a time."""
    boundary = uuid4().hex
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
        'filename="gradebook.csv"\r\nContent-Type: text/csv\r\n\r\n'
    )
    head = (
        f"POST /cases/{uuid4()}/posts HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {ZACK}\r\nContent-Length: 1000000\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
    )
    return (head + part).encode()


def _incident_head(host: str) -> bytes:
    """An admin notice whose JSON body is declared at 10 KB and then trickles."""
    return (
        f"POST /admin/incidents HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {BOARD_TOKEN}\r\nContent-Type: application/json\r\n"
        "Content-Length: 10000\r\n\r\n"
        '{"id": "trickle", "title": "Trickle", "body": "'
    ).encode()


async def _trickle(port: int, head: bytes) -> tuple[bytes, bool]:
    """Send `head`, then one byte every 0.2 s until answered: (the answer, server closed)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    answer, deadline = b"", asyncio.get_running_loop().time() + GIVE_UP_S
    try:
        while not answer and asyncio.get_running_loop().time() < deadline:
            try:
                answer = await asyncio.wait_for(reader.read(65536), 0.2)
            except TimeoutError:
                writer.write(b"a")
                await writer.drain()
        if not answer:
            return b"", False
        try:
            rest = await asyncio.wait_for(reader.read(), 10.0)  # b"" once the server closed
        except TimeoutError:
            return answer, False
        return answer + rest, True
    except ConnectionError:
        return answer, True
    finally:
        writer.close()


def _status(answer: bytes) -> int:
    """The status code of a raw HTTP/1.1 answer."""
    return int(answer.split(b" ", 2)[1])


async def test_twenty_trickling_uploads_get_408_and_free_their_connections(
    processes: Processes,
) -> None:
    """Each of 20 uploads slower than the minimum pace gets 408; intake serves meanwhile."""
    port = _port(processes, "intake")
    trickles = [asyncio.create_task(_trickle(port, _upload_head("intake"))) for _ in range(20)]
    await asyncio.sleep(0.5)
    async with httpx.AsyncClient(base_url=processes.urls["intake"]) as http:
        assert (await http.get("/healthz")).status_code == 200  # the trickles hold no worker
    results = await asyncio.gather(*trickles)
    assert [closed for _, closed in results] == [True] * TRICKLES
    for answer, _ in results:
        assert _status(answer) == 408
        assert b"did not arrive in time" in answer


async def test_a_trickling_admin_notice_gets_408(processes: Processes) -> None:
    """The status board's own server (admin port) cuts a trickling JSON body off too."""
    answer, closed = await _trickle(_port(processes, "status-board-admin"), _incident_head("board"))
    assert closed
    assert _status(answer) == 408
    assert b"did not arrive in time" in answer


async def test_a_head_that_never_ends_gets_408(processes: Processes) -> None:
    """A request head trickled forever (slowloris) is answered 408 and closed."""
    head = b"GET /healthz HTTP/1.1\r\nHost: feed\r\nX-Slow: "
    answer, closed = await _trickle(_port(processes, "feed"), head)
    assert closed
    assert _status(answer) == 408
    assert b"the request head did not arrive within 3 s" in answer
