"""Replies by email on the real stack: sent over SMTP to intake's listener, read on case.events."""

import asyncio
import contextlib
import os
import re
import signal
import smtplib
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from intake.settings import Settings
from shared.enums import Status
from shared.replies import message_id, reply_address

KEY = "local-inbound-test-mail-reply-key"
DOMAIN = "support-portal.local"
ZACK = "zack.morris@bayside.example"
PORTAL = "http://portal.example.test"


@dataclass
class Listener:
    """An inbound mail process of intake's code, on free ports."""

    smtp_port: int
    http_port: int
    process: subprocess.Popen[bytes]

    def send(self, mail: EmailMessage, envelope_from: str, to: list[str] | None = None) -> None:
        """Deliver `mail` as an MTA would; returns only on 250 (raises otherwise)."""
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=60) as smtp:
            smtp.send_message(mail, from_addr=envelope_from, to_addrs=to or [str(mail["To"])])


def _env(settings: Settings, smtp_port: int, http_port: int, mongo_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "MONGO_URL": mongo_url,
        "TOPIC_NAMESPACE": settings.topic_namespace,
        "INTAKE_MONGO_DATABASE": settings.mongo_database,
        "INTAKE_SEED_FILE": "",
        "INBOUND_SMTP_HOST": "127.0.0.1",
        "INBOUND_SMTP_PORT": str(smtp_port),
        "INTAKE_INBOUND_PORT": str(http_port),
        "MAIL_REPLY_KEY": KEY,
        "INTAKE_PORTAL_URL": PORTAL,
        "INTAKE_INBOUND_RATE_BURST": "1000",
        "LOG_FORMAT": "text",
    }


async def _start(
    settings: Settings,
    kit: Any,
    mongo_url: str | None = None,
    probe: str = "/readyz",
    **extra: str,
) -> Listener:
    smtp_port, http_port = kit.free_port(), kit.free_port()
    env = _env(settings, smtp_port, http_port, mongo_url or settings.mongo_url.get_secret_value())
    env.update(extra)
    argv = [sys.executable, "-m", "intake", "inbound"]
    listener = Listener(smtp_port, http_port, subprocess.Popen(argv, env=env))  # noqa: ASYNC220
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"http://127.0.0.1:{http_port}{probe}")).status_code == 200:
                    return listener
            assert listener.process.poll() is None, "the inbound process exited"
            await asyncio.sleep(0.1)
    listener.process.kill()
    raise AssertionError("the inbound mail process never became ready")


def _stop(listener: Listener) -> None:
    listener.process.kill()
    listener.process.wait()


@pytest.fixture(scope="module")
async def listener(
    intake_settings: Settings, intake_app: FastAPI, kit: Any
) -> AsyncIterator[Listener]:
    """The inbound process beside the in-process intake (same namespace and database)."""
    started = await _start(intake_settings, kit)
    yield started
    _stop(started)


@dataclass
class Case:
    """A case Zack submitted."""

    case_id: str
    number: int


async def _case(client: httpx.AsyncClient, intake_app: FastAPI, kit: Any) -> Case:
    created = await kit.submit(client, subject=f"mail test {uuid.uuid4()}")
    await intake_app.state.intake.cases.flushed(created["case_id"])
    return Case(created["case_id"], created["case_number"])


def _reply(
    text: str, subject: str = "Re: your case", sender: str = ZACK, **headers: str
) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = f"Someone <{sender}>"
    mail["To"] = f"support@{DOMAIN}"
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@mail.bayside.example>"
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text)
    return mail


QUOTED = (
    "\n\nOn Tue, Dec 1, 2026 at 10:00 AM Campus Support <support@support-portal.local> wrote:\n"
    "> Your case was updated.\n> Reply to this email.\n"
)


def _bounce_address() -> str:
    """A unique envelope sender: answers go there, so the sink shows only this test's."""
    return f"zack.morris+{uuid.uuid4().hex[:10]}@bayside.example"


async def _posts(settings: Settings, kit: Any, case: Case) -> list[dict[str, Any]]:
    events = await kit.case_events(settings, case.case_id)
    return [e for e in events if e["type"] == "case.post_added"]


async def _mail_to(stack: Any, address: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=stack.mailbox_url) as http:
        entries = (await http.get("/api/messages", params={"to": address})).json()
        return [(await http.get(f"/api/messages/{e['id']}")).json() for e in entries]


async def test_reply_threaded_by_in_reply_to_posts_only_new_text(
    listener: Listener,
    client: httpx.AsyncClient,
    intake_app: FastAPI,
    intake_settings: Settings,
    kit: Any,
) -> None:
    """A reply to a notice's Message-ID becomes Zack's post holding only what he wrote."""
    case = await _case(client, intake_app, kit)
    notice = message_id(KEY, uuid.UUID(case.case_id), uuid.uuid4(), DOMAIN)
    mail = _reply(
        "Thanks, the gradebook opens now.\n\nBest regards,\nZack" + QUOTED, In_Reply_To=notice
    )
    await asyncio.to_thread(listener.send, mail, ZACK)
    [post] = await _posts(intake_settings, kit, case)
    assert post["body_text"] == "Thanks, the gradebook opens now."
    assert post["author"]["id"] == "zack-morris"
    events = await kit.case_events(intake_settings, case.case_id)
    [original] = [
        e["attachment"]
        for e in events
        if e["type"] == "case.attachment_added" and e["post_id"] == post["post_id"]
    ]
    assert original["filename"] == "original message.eml"
    kept = await client.get(
        f"/cases/{case.case_id}/attachments/{original['attachment_id']}",
        headers=kit.auth(kit.ZACK),
    )
    assert kept.status_code == 200
    assert b"> Reply to this email." in kept.content  # the whole message, quote and all
    assert kept.content.count(b"Thanks, the gradebook opens now.") == 1


async def test_html_reply_posts_its_text_sanitised(
    listener: Listener,
    client: httpx.AsyncClient,
    intake_app: FastAPI,
    intake_settings: Settings,
    kit: Any,
) -> None:
    """An HTML-only reply is posted as its text, without markup, script or quoted history."""
    case = await _case(client, intake_app, kit)
    mail = _reply("", subject=f"Re: [Case {case.number}]")
    mail.set_content(
        "<p>Fixed <b>after</b> the update.</p><script>alert(1)</script>"
        "<blockquote>Your case was updated</blockquote>",
        subtype="html",
    )
    await asyncio.to_thread(listener.send, mail, ZACK)
    [post] = await _posts(intake_settings, kit, case)
    assert post["body_text"] == "Fixed after the update."
    assert post["body_html"] == "<p>Fixed after the update.</p>"


async def test_reply_to_the_reply_address_posts(
    listener: Listener,
    client: httpx.AsyncClient,
    intake_app: FastAPI,
    intake_settings: Settings,
    kit: Any,
) -> None:
    """A reply sent to the case's reply address, with no thread headers, is posted."""
    case = await _case(client, intake_app, kit)
    address = reply_address(KEY, uuid.UUID(case.case_id), "zack-morris", DOMAIN)
    mail = _reply("Here is the screenshot you asked for." + QUOTED)
    await asyncio.to_thread(listener.send, mail, ZACK, [address])
    [post] = await _posts(intake_settings, kit, case)
    assert post["body_text"] == "Here is the screenshot you asked for."


async def test_reply_with_subject_tag_posts(
    listener: Listener,
    client: httpx.AsyncClient,
    intake_app: FastAPI,
    intake_settings: Settings,
    kit: Any,
) -> None:
    """A new mail whose subject carries `[Case N]` is posted on case N."""
    case = await _case(client, intake_app, kit)
    mail = _reply(
        "One more detail: it fails on Chrome only.", subject=f"RE: [Case {case.number}] x"
    )
    await asyncio.to_thread(listener.send, mail, ZACK)
    [post] = await _posts(intake_settings, kit, case)
    assert post["body_text"] == "One more detail: it fails on Chrome only."


async def test_stranger_bounced_once_and_nothing_posted(
    listener: Listener,
    client: httpx.AsyncClient,
    intake_app: FastAPI,
    intake_settings: Settings,
    kit: Any,
    stack: Any,
) -> None:
    """A sender who is not a contact of the case gets one polite bounce naming no case."""
    case = await _case(client, intake_app, kit)
    stranger = f"stranger-{uuid.uuid4().hex[:10]}@elsewhere.example"
    mail = _reply("Let me in.", subject=f"[Case {case.number}]", sender=stranger)
    await asyncio.to_thread(listener.send, mail, stranger)
    await asyncio.to_thread(listener.send, mail, stranger)  # redelivered: still one bounce
    assert await _posts(intake_settings, kit, case) == []
    [bounce] = await _mail_to(stack, stranger)
    assert bounce["subject"] == "Your message could not be added to a support case"
    assert str(case.number) not in bounce["text"]
    assert PORTAL in bounce["text"]


async def test_spicoli_cannot_post_on_a_bayside_case(
    listener: Listener,
    client: httpx.AsyncClient,
    intake_app: FastAPI,
    intake_settings: Settings,
    kit: Any,
) -> None:
    """A contact of another district is refused like a stranger: nothing posted."""
    case = await _case(client, intake_app, kit)
    mail = _reply("Hi", subject=f"[Case {case.number}]", sender="jeff.spicoli@ridgemont.example")
    await asyncio.to_thread(listener.send, mail, _bounce_address())
    assert await _posts(intake_settings, kit, case) == []


async def test_auto_reply_posts_nothing_and_sends_nothing(
    listener: Listener,
    client: httpx.AsyncClient,
    intake_app: FastAPI,
    intake_settings: Settings,
    kit: Any,
    stack: Any,
) -> None:
    """An out-of-office reply (Auto-Submitted: auto-replied) is neither posted nor answered."""
    case = await _case(client, intake_app, kit)
    envelope = _bounce_address()
    mail = _reply(
        "I am out of the office.", subject=f"[Case {case.number}]", Auto_Submitted="auto-replied"
    )
    await asyncio.to_thread(listener.send, mail, envelope)
    assert await _posts(intake_settings, kit, case) == []
    assert await _mail_to(stack, envelope) == []


async def test_same_reply_twice_posts_once(
    listener: Listener,
    client: httpx.AsyncClient,
    intake_app: FastAPI,
    intake_settings: Settings,
    kit: Any,
) -> None:
    """The same message delivered twice (same Message-ID) is one post."""
    case = await _case(client, intake_app, kit)
    mail = _reply("Posted once.", subject=f"[Case {case.number}]")
    await asyncio.to_thread(listener.send, mail, ZACK)
    await asyncio.to_thread(listener.send, mail, ZACK)
    assert [p["body_text"] for p in await _posts(intake_settings, kit, case)] == ["Posted once."]


async def test_eleven_attachments_post_ten_and_say_so(
    listener: Listener,
    client: httpx.AsyncClient,
    intake_app: FastAPI,
    intake_settings: Settings,
    kit: Any,
    stack: Any,
) -> None:
    """Of 11 attached files the post takes the first 10; the sender is told the 11th was not."""
    case = await _case(client, intake_app, kit)
    envelope = _bounce_address()
    mail = _reply("Logs attached.", subject=f"[Case {case.number}]")
    for index in range(1, 12):
        mail.add_attachment(f"log line {index}\n", filename=f"log{index:02}.txt")
    await asyncio.to_thread(listener.send, mail, envelope)
    [post] = await _posts(intake_settings, kit, case)
    assert [a["filename"] for a in post["attachments"]] == [f"log{i:02}.txt" for i in range(1, 11)]
    [notice] = await _mail_to(stack, envelope)
    assert notice["subject"] == f"[Case {case.number}] Some attachments were not added"
    assert "log11.txt" in notice["text"]
    assert "log10.txt" not in notice["text"]


async def test_reply_on_closed_case_posts_and_asks_to_reopen(
    listener: Listener,
    client: httpx.AsyncClient,
    intake_app: FastAPI,
    intake_settings: Settings,
    kit: Any,
    stack: Any,
) -> None:
    """A reply on a case closed today is kept as a post, and Zack is asked whether to reopen."""
    case = await _case(client, intake_app, kit)
    await kit.set_status(client, intake_settings, case.case_id, Status.CLOSED)
    envelope = _bounce_address()
    await asyncio.to_thread(
        listener.send, _reply("It broke again.", subject=f"[Case {case.number}]"), envelope
    )
    [post] = await _posts(intake_settings, kit, case)
    assert post["body_text"] == "It broke again."
    [notice] = await _mail_to(stack, envelope)
    assert notice["subject"] == f"[Case {case.number}] This case is closed"
    assert f"{PORTAL}/cases/{case.number}" in notice["text"]
    assert "reopen the case" in notice["text"]


async def test_a_flooding_sender_is_asked_to_retry_later(
    client: httpx.AsyncClient, intake_app: FastAPI, intake_settings: Settings, kit: Any
) -> None:
    """Past the per-sender rate the listener answers 451 4.7.1 and posts nothing more."""
    case = await _case(client, intake_app, kit)
    strict = await _start(
        intake_settings, kit, INTAKE_INBOUND_RATE_BURST="1", INTAKE_INBOUND_RATE_PER_MINUTE="1"
    )
    try:
        await asyncio.to_thread(strict.send, _reply("First.", f"[Case {case.number}]"), ZACK)
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await asyncio.to_thread(strict.send, _reply("Second.", f"[Case {case.number}]"), ZACK)
    finally:
        _stop(strict)
    assert refused.value.smtp_code == 451
    assert "4.7.1 Too many messages from this sender" in str(refused.value)
    assert [p["body_text"] for p in await _posts(intake_settings, kit, case)] == ["First."]


async def test_without_kafka_the_reply_waits_at_the_sender(
    client: httpx.AsyncClient, intake_app: FastAPI, intake_settings: Settings, kit: Any
) -> None:
    """With Kafka unreachable the listener answers 451 (the MTA keeps the mail), posts nothing."""
    case = await _case(client, intake_app, kit)
    dead = f"127.0.0.1:{kit.free_port()}"
    cut_off = await _start(intake_settings, kit, probe="/healthz", KAFKA_BOOTSTRAP_SERVERS=dead)
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await asyncio.to_thread(cut_off.send, _reply("Later.", f"[Case {case.number}]"), ZACK)
    finally:
        _stop(cut_off)
    assert refused.value.smtp_code == 451
    assert await _posts(intake_settings, kit, case) == []


# --- a crash between receipt and publish ---------------------------------------------------


@dataclass
class HeldProxy:
    """A TCP proxy to the Mongo server that can hold what the client sends."""

    upstream: tuple[str, int]
    holding: bool = False
    # Start holding at the first chunk holding all of these (a given command on a collection).
    trigger: tuple[bytes, ...] = ()
    held: bytearray = field(default_factory=bytearray)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        back = asyncio.create_task(self._pump(up_reader, writer, hold=False))
        await self._pump(reader, up_writer, hold=True)
        back.cancel()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hold: bool
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(65536):
                if hold and self.trigger and all(m in chunk for m in self.trigger):
                    self.holding = True
                if hold and self.holding:
                    self.held += chunk  # never forwarded: the process waits on Mongo
                    self.changed.set()
                    continue
                writer.write(chunk)
                await writer.drain()
        writer.close()

    async def wait_held(self, marker: bytes) -> None:
        """Until the held bytes contain `marker` (a command name)."""
        while marker not in self.held:
            self.changed.clear()
            await self.changed.wait()


@pytest.fixture
async def mongo_proxy(intake_settings: Settings) -> AsyncIterator[HeldProxy]:
    """A holdable proxy in front of the stack's Mongo server."""
    url = httpx.URL(intake_settings.mongo_url.get_secret_value().replace("mongodb://", "http://"))
    proxy = HeldProxy((url.host, url.port or 27017))
    yield proxy
    if proxy.server is not None:
        proxy.server.close()


def _send_until_killed(
    port: int, mail: EmailMessage, sent: asyncio.Event, loop: asyncio.AbstractEventLoop
) -> str:
    """Send a message; returns how the session ended (it must not be a 250)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo()
        smtp.mail(ZACK)
        smtp.rcpt(f"support@{DOMAIN}")
        code, _ = smtp.docmd("DATA")
        assert code == 354
        smtp.send(mail.as_bytes().replace(b"\n", b"\r\n") + b"\r\n.\r\n")
        loop.call_soon_threadsafe(sent.set)
        try:
            code, text = smtp.getreply()
        except smtplib.SMTPServerDisconnected:
            return "disconnected"
        return f"{code} {text.decode()}"


async def test_sigkill_between_receipt_and_publish_posts_once(
    mongo_proxy: HeldProxy,
    client: httpx.AsyncClient,
    intake_app: FastAPI,
    intake_settings: Settings,
    kit: Any,
) -> None:
    """Killed after the message arrived and before its post was published, intake never said
    250; the MTA's retry to a restarted intake posts it once."""
    case = await _case(client, intake_app, kit)
    port = await mongo_proxy.start()
    victim = await _start(
        intake_settings, kit, f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false"
    )
    mail = _reply("Survives a crash.", subject=f"[Case {case.number}]")
    sent = asyncio.Event()
    try:
        mongo_proxy.holding = True
        loop = asyncio.get_running_loop()
        ending = asyncio.create_task(
            asyncio.to_thread(_send_until_killed, victim.smtp_port, mail, sent, loop)
        )
        await sent.wait()
        await mongo_proxy.wait_held(b"find")  # the message is in, its sender being looked up
        victim.process.send_signal(signal.SIGKILL)
        assert await ending == "disconnected"
    finally:
        _stop(victim)
    assert await _posts(intake_settings, kit, case) == []
    restarted = await _start(intake_settings, kit)
    try:
        await asyncio.to_thread(restarted.send, mail, ZACK)
        await asyncio.to_thread(restarted.send, mail, ZACK)
    finally:
        _stop(restarted)
    assert [p["body_text"] for p in await _posts(intake_settings, kit, case)] == [
        "Survives a crash."
    ]


async def test_sigkill_after_publish_before_250_posts_once(
    mongo_proxy: HeldProxy,
    client: httpx.AsyncClient,
    intake_app: FastAPI,
    intake_settings: Settings,
    kit: Any,
) -> None:
    """Killed after the post was on Kafka but before it said 250, intake gets the message
    again: 451 while the first attempt's claim is fresh, then (once it has expired) the
    retry publishes the same post, with the same ids, so the case has one post."""
    case = await _case(client, intake_app, kit)
    port = await mongo_proxy.start()
    mongo_proxy.trigger = (b"update\x00", b"idempotency_keys\x00")  # the post is published
    victim = await _start(
        intake_settings, kit, f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false"
    )
    mail = _reply("Published, then killed.", subject=f"[Case {case.number}]")
    sent = asyncio.Event()
    try:
        loop = asyncio.get_running_loop()
        ending = asyncio.create_task(
            asyncio.to_thread(_send_until_killed, victim.smtp_port, mail, sent, loop)
        )
        await sent.wait()
        await mongo_proxy.wait_held(b"idempotency_keys")
        victim.process.send_signal(signal.SIGKILL)
        assert await ending == "disconnected"
    finally:
        _stop(victim)
    [first] = await _posts(intake_settings, kit, case)
    restarted = await _start(intake_settings, kit)
    try:
        with pytest.raises(smtplib.SMTPDataError) as fresh:
            await asyncio.to_thread(restarted.send, mail, ZACK)
        assert fresh.value.smtp_code == 451
        await _age_claims(intake_app, str(mail["Message-ID"]))  # the MTA retries much later
        await asyncio.to_thread(restarted.send, mail, ZACK)
    finally:
        _stop(restarted)
    posts = await _posts(intake_settings, kit, case)
    assert {(p["post_id"], p["event_id"]) for p in posts} == {(first["post_id"], first["event_id"])}
    assert {p["body_text"] for p in posts} == {"Published, then killed."}


async def _age_claims(intake_app: FastAPI, message_id: str) -> None:
    """Date the idempotency claim of a message two minutes back, as if that time had passed."""
    claims = intake_app.state.intake.idempotency.collection
    key = f"mail:{message_id.lower()}"
    found = await claims.update_many(
        {"_id": {"$regex": f":{re.escape(key)}$"}},
        {"$set": {"at": datetime.now(UTC) - timedelta(minutes=2)}},
    )
    assert found.modified_count == 1
