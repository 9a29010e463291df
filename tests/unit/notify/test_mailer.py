"""The SMTP pool against a real in-process aiosmtpd server: reuse, reconnect, retry, refuse."""

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from notify.errors import MailDeferred, MailRejected
from notify.mailer import Mailer


@dataclass
class Handler:
    """Stores messages; RCPT replies are scripted per address."""

    received: list[tuple[Any, str]] = field(default_factory=list)
    replies: dict[str, list[str]] = field(default_factory=dict)
    rcpt_calls: dict[str, int] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.rcpt_calls[address] = self.rcpt_calls.get(address, 0) + 1
        script = self.replies.get(address)
        reply = script.pop(0) if script and len(script) > 1 else (script or ["250 OK"])[0]
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((session.peer, envelope.rcpt_tos[0]))
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server() -> Iterator[tuple[Controller, Handler]]:
    """A running aiosmtpd server on a free port."""
    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


def _mail(to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "s@test.invalid", to, "hi"
    message.set_content("hello")
    return message


def _mailer(port: int, **kw: Any) -> Mailer:
    return Mailer("127.0.0.1", port, sender="s@test.invalid", base_delay=0.01, **kw)


async def test_mails_reuse_one_kept_open_connection(server: tuple[Controller, Handler]) -> None:
    """Several mails go over one SMTP session."""
    controller, handler = server
    mailer = _mailer(controller.port, connections=1)
    for n in range(3):
        await mailer.send(_mail(f"a{n}@example.org"), f"a{n}@example.org")
    await mailer.aclose()
    assert len(handler.received) == 3
    assert len({peer for peer, _ in handler.received}) == 1


async def test_reconnects_after_the_server_went_away() -> None:
    """A session broken by a server restart is replaced on the next send."""
    handler, port = Handler(), free_port()
    first = Controller(handler, hostname="127.0.0.1", port=port)
    first.start()
    mailer = _mailer(port, connections=1)
    await mailer.send(_mail("a@example.org"), "a@example.org")
    first.stop()
    second = Controller(handler, hostname="127.0.0.1", port=port)
    second.start()
    try:
        await mailer.send(_mail("b@example.org"), "b@example.org")
    finally:
        await mailer.aclose()
        second.stop()
    assert [to for _, to in handler.received] == ["a@example.org", "b@example.org"]
    assert len({peer for peer, _ in handler.received}) == 2


async def test_permanent_refusal_is_not_retried(server: tuple[Controller, Handler]) -> None:
    """A 5xx reply raises MailRejected after one attempt."""
    controller, handler = server
    handler.replies["gone@example.org"] = ["550 5.1.1 no such mailbox"]
    mailer = _mailer(controller.port)
    with pytest.raises(MailRejected) as caught:
        await mailer.send(_mail("gone@example.org"), "gone@example.org")
    await mailer.aclose()
    assert caught.value.code == 550
    assert handler.rcpt_calls["gone@example.org"] == 1


async def test_temporary_refusal_is_retried_until_accepted(
    server: tuple[Controller, Handler],
) -> None:
    """A 4xx reply is retried with backoff and the mail then goes out once."""
    controller, handler = server
    handler.replies["busy@example.org"] = ["451 4.3.0 try later", "250 OK"]
    mailer = _mailer(controller.port)
    await mailer.send(_mail("busy@example.org"), "busy@example.org")
    await mailer.aclose()
    assert handler.rcpt_calls["busy@example.org"] == 2
    assert [to for _, to in handler.received] == ["busy@example.org"]


async def test_temporary_refusal_that_persists_is_rejected(
    server: tuple[Controller, Handler],
) -> None:
    """A 4xx on every attempt ends as MailRejected naming the attempts (for the DLQ)."""
    controller, handler = server
    handler.replies["full@example.org"] = ["452 4.2.2 mailbox full"]
    mailer = _mailer(controller.port, attempts=3)
    with pytest.raises(MailRejected, match="after 3 attempts"):
        await mailer.send(_mail("full@example.org"), "full@example.org")
    await mailer.aclose()
    assert handler.rcpt_calls["full@example.org"] == 3


async def test_unreachable_server_defers() -> None:
    """Connection refused on every attempt raises MailDeferred, a transient fault."""
    mailer = _mailer(free_port(), attempts=2)
    with pytest.raises(MailDeferred):
        await mailer.send(_mail("a@example.org"), "a@example.org")
    await mailer.aclose()
