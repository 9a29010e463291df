"""The SMTP pool against a real in-process aiosmtpd server: reuse, reconnect, retry, refuse."""

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.headerregistry import Address
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


async def test_the_end_of_data_waits_for_before_end(server: tuple[Controller, Handler]) -> None:
    """`before_end` runs once the body is written and before the server has the message."""
    controller, handler = server
    mailer = _mailer(controller.port)
    seen: list[int] = []

    async def before_end() -> None:
        seen.append(len(handler.received))

    await mailer.send(_mail("a@example.org"), "a@example.org", before_end)
    await mailer.aclose()
    assert seen == [0]
    assert len(handler.received) == 1


async def test_a_failing_before_end_aborts_the_mail(server: tuple[Controller, Handler]) -> None:
    """An error before the end of data leaves the server without the mail; the next one goes."""
    controller, handler = server
    mailer = _mailer(controller.port, connections=1)

    async def lost() -> None:
        raise RuntimeError("claim lost")

    with pytest.raises(RuntimeError, match="claim lost"):
        await mailer.send(_mail("a@example.org"), "a@example.org", lost)
    await mailer.send(_mail("b@example.org"), "b@example.org")
    await mailer.aclose()
    assert [to for _, to in handler.received] == ["b@example.org"]


async def test_lines_starting_with_a_dot_arrive_intact() -> None:
    """Dot-stuffing: a body line of a single dot does not end the data early."""
    bodies: list[bytes] = []

    class Keeping(Handler):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            bodies.append(envelope.original_content)
            return "250 OK"

    controller = Controller(Keeping(), hostname="127.0.0.1", port=free_port())
    controller.start()
    message = _mail("a@example.org")
    message.set_content("first\n.\n.hidden\nlast\n")
    mailer = _mailer(controller.port)
    try:
        await mailer.send(message, "a@example.org")
    finally:
        await mailer.aclose()
        controller.stop()
    assert b"\r\n.\r\n.hidden\r\nlast\r\n" in bodies[0]


async def test_a_slow_reply_to_the_end_of_data_is_waited_for_not_resent() -> None:
    """A server slower to accept than the command timeout still gets the mail once."""

    class Slow(Handler):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            await asyncio.sleep(0.5)
            return await super().handle_DATA(server, session, envelope)

    handler = Slow()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailer = _mailer(controller.port, timeout=0.2, data_timeout=5.0)
    try:
        await mailer.send(_mail("a@example.org"), "a@example.org")
    finally:
        await mailer.aclose()
        controller.stop()
    assert [to for _, to in handler.received] == ["a@example.org"]


async def test_bytes_carrying_a_header_of_their_own_are_never_sent(
    server: tuple[Controller, Handler],
) -> None:
    """A message whose serialization would add a header (Python 3.11.7 decodes an encoded
    word into CR/LF) is refused before MAIL FROM; the session then sends the next mail."""
    controller, handler = server
    evil = EmailMessage()
    evil["From"] = Address(
        display_name="=?utf-8?q?=0D=0AReply-To:_attacker@evil.example=0D=0A=0D=0A<h1>x</h1>?=",
        addr_spec="s@test.invalid",
    )
    evil["To"], evil["Subject"] = "a@example.org", "hi"
    evil.set_content("hello")
    mailer = _mailer(controller.port, connections=1)
    with pytest.raises(MailRejected, match="Reply-To"):
        await mailer.send(evil, "a@example.org")
    await mailer.send(_mail("b@example.org"), "b@example.org")
    await mailer.aclose()
    assert [to for _, to in handler.received] == ["b@example.org"]
    assert "a@example.org" not in handler.rcpt_calls
