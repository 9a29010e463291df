"""The receipts lookup: what a mail store's answers mean, over real loopback HTTP."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from pydantic import ValidationError

from notify.mailer import HttpReceipts
from notify.settings import Settings


class Store:
    """Answers by Message-ID: `replies` maps one to (status, JSON body)."""

    def __init__(self) -> None:
        self.replies: dict[str, tuple[int, Any]] = {}
        self.asked: list[tuple[str, str]] = []


@pytest.fixture
def store() -> Iterator[tuple[Store, str]]:
    state = Store()

    class Lookup(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            wanted = query["message_id"][0]
            state.asked.append((wanted, query.get("to", [""])[0]))
            status, body = state.replies.get(wanted, (200, []))
            raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
            self.send_response(status)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Lookup)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    yield state, f"http://127.0.0.1:{port}/api/messages?message_id={{message_id}}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("reply", "held"),
    [
        ((200, [{"id": "1"}]), True),
        ((200, []), False),
        ((200, {"total": 1, "messages": []}), True),
        ((200, {"messages_count": 0}), False),
        ((404, {"detail": "no such message"}), False),
        ((500, {"detail": "boom"}), None),
        ((200, b"not json"), None),
        ((200, {"unexpected": True}), None),
    ],
)
async def test_answers_mean_held_not_held_or_unknown(
    store: tuple[Store, str], reply: tuple[int, Any], held: bool | None
) -> None:
    state, url = store
    state.replies["<a@x>"] = reply
    assert await HttpReceipts(url).holds("<a@x>", "ann@x") is held


async def test_the_message_id_and_recipient_are_sent_url_encoded(
    store: tuple[Store, str],
) -> None:
    state, url = store
    await HttpReceipts(url + "&to={recipient}").holds("<a+b&c=d@x>", "ann+1@x")
    assert state.asked == [("<a+b&c=d@x>", "ann+1@x")]


async def test_a_store_that_does_not_answer_is_unknown() -> None:
    url = "http://127.0.0.1:9/api/messages?message_id={message_id}"  # discard port, closed
    assert await HttpReceipts(url, timeout=1.0).holds("<a@x>", "ann@x") is None


def test_a_lookup_url_without_the_placeholder_is_refused_with_an_example() -> None:
    with pytest.raises(ValidationError, match=r"must contain \{message_id\}"):
        Settings(receipts_url="http://127.0.0.1:8025/api/messages")
    with pytest.raises(ValueError, match="message_id"):
        HttpReceipts("http://127.0.0.1:8025/api/messages")
