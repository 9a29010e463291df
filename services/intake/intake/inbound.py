"""Replies by email: an SMTP listener whose messages become posts through `Intake.add_post`.

The 250 is answered only once the post's events are acknowledged by Kafka; anything short of
that answers 451, so the sending MTA keeps the message and retries, and a retry posts once
(the post's id and event ids derive from the Message-ID, through add_post's idempotency).
"""

import asyncio
import contextlib
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from functools import partial
from typing import Any
from uuid import UUID, uuid5

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter

from intake import mail_logic
from intake.app import _intake
from intake.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable, problem
from intake.logic import TokenBucket
from intake.mail_logic import Answer, CaseMatch
from intake.mail_store import MailLog, Originals, Senders
from intake.service import Intake, Upload
from intake.settings import Settings
from shared.directory import Principal
from shared.enums import ActorKind, Status, Visibility
from shared.events import AttachmentAdded
from shared.kafka import ensure_topics
from shared.logs import configure_logging
from shared.messages import utcnow
from shared.mongo import mongo_client, mongo_reachable
from shared.replies import ReplyAddress
from shared.service import Check, new_app, ops_router, serve
from shared.settings import refuse_local_secrets
from shared.workflow import can_reopen

log = logging.getLogger("intake.inbound")
ACCEPTED = "250 2.0.0 Message accepted"
RETRY_LATER = "451 4.3.0 Message not accepted yet; please retry later"
SLOW_DOWN = "451 4.7.1 Too many messages from this sender; please retry later"
Send = Callable[[EmailMessage], Awaitable[None]]


@dataclass(frozen=True)
class Target:
    """Where a reply goes: the sender as a principal, and the case."""

    principal: Principal
    case_id: UUID
    case_number: int
    status: Status
    account_id: str
    closed_at: datetime | None


@dataclass
class InboundMail:
    """Turns one received message into a post, an answer, or a record only."""

    settings: Settings
    intake: Intake
    senders: Senders
    mail_log: MailLog
    originals: Originals
    limiter: TokenBucket
    send: Send
    outcomes: Counter

    @property
    def key(self) -> str:
        """The secret that signs our Message-IDs and reply addresses."""
        return self.settings.mail_reply_key.get_secret_value()

    async def receive(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> str:
        """The SMTP answer to one message; 250 only once its outcome is durable."""
        try:
            return await self._receive(mail_from, rcpt_tos, raw)
        except Unavailable as exc:
            log.warning("reply not posted yet (%s); the sender's MTA will retry", exc)
        except Exception:
            log.exception("reply from %s could not be handled; the MTA will retry", mail_from)
        self.outcomes.labels("retry").inc()
        return RETRY_LATER

    async def _receive(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> str:
        # Parsing a large message is CPU work: off the event loop, like its files below.
        message = await asyncio.to_thread(mail_logic.parse, raw)
        sender = mail_logic.sender_of(message)
        if self.limiter.take(f"mail:{sender or mail_from.lower()}"):
            self.outcomes.labels("rate limited").inc()
            return SLOW_DOWN
        message_id = mail_logic.safe_id(mail_logic.header(message, "Message-ID"))
        key = mail_logic.post_key(message_id, raw)
        if await self.mail_log.outcome(key) is not None:
            return ACCEPTED  # a redelivery of a message already settled
        facts: dict[str, Any] = {
            "mail_from": mail_from,
            "sender": sender,
            "rcpt_tos": rcpt_tos,
            "message_id": message_id,
            "subject": mail_logic.printable(mail_logic.header(message, "Subject"), 200),
        }
        own = [self.settings.mail_from, *self.settings.inbound_own_addresses]
        reason = mail_logic.ignored(message, mail_from, sender, own, self.key)
        if reason is not None:
            return await self._settle(key, facts, "ignored", reason=reason.value)
        assert sender is not None  # ignored() answers NO_SENDER otherwise
        match = mail_logic.match_case(message, rcpt_tos, self.key)
        target = await self._target(match, await self.senders.of(sender))
        if target is None:
            return await self._refuse(key, facts, mail_from, message_id)
        return await self._post(key, facts, message, raw, target, mail_from, message_id)

    async def _target(self, match: CaseMatch | None, people: list[Principal]) -> Target | None:
        """The case the reply names and the sender as someone who may post on it, or None."""
        if match is None or not people:
            return None
        case_id = match.case_id
        if case_id is None and match.case_number is not None:
            found = await self.intake.cases.id_of_number(match.case_number)
            case_id = UUID(found) if found else None
        doc = await self.intake.cases.document(str(case_id)) if case_id else None
        case = await self.intake.cases.get(str(case_id)) if doc else None
        if doc is None or case is None:
            return None
        allowed = [p for p in people if p.sees_account(case.account_id) and p.can_modify_cases]
        if match.recipient_tag is not None:  # the person the notice went to, if they replied
            address = ReplyAddress(UUID(case.case_id), match.recipient_tag)
            allowed.sort(key=lambda p: not address.is_for(self.key, p.id))
        if not allowed:
            return None
        return Target(
            allowed[0],
            UUID(case.case_id),
            int(doc["case_number"]),
            case.status,
            case.account_id,
            case.closed_at,
        )

    async def _refuse(
        self, key: str, facts: dict[str, Any], mail_from: str, message_id: str | None
    ) -> str:
        """One polite bounce (naming no case) to a sender who may not post, nothing posted."""
        answer = mail_logic.refusal(self.settings.portal_url.rstrip("/"))
        await self._answer(answer, mail_from, message_id, key, required=True)
        return await self._settle(key, facts, "refused")

    async def _post(
        self,
        key: str,
        facts: dict[str, Any],
        message: EmailMessage,
        raw: bytes,
        target: Target,
        mail_from: str,
        message_id: str | None,
    ) -> str:
        files = await asyncio.to_thread(mail_logic.attachments, message)
        kept, dropped = mail_logic.within_limits(
            files, self.settings.max_attachments, self.settings.max_attachment_bytes
        )
        text = await asyncio.to_thread(mail_logic.new_text, message)
        body = mail_logic.text_to_html(text)
        uploads = [
            Upload(f.filename, f.content_type, len(f.content), io.BytesIO(f.content)) for f in kept
        ]
        ref = str(target.case_id)
        try:
            # A reply by email is always public, even a staff member's answer to a note's mail.
            post = await self.intake.add_post(
                target.principal, ref, body, uploads, key, Visibility.PUBLIC
            )
        except Invalid as exc:  # nothing to post: no text and no files
            return await self._settle(key, facts, "ignored", reason=str(exc))
        except (Forbidden, NotFound):
            return await self._refuse(key, facts, mail_from, message_id)
        except Conflict:  # the same message is being posted right now (or its claim is fresh)
            raise Unavailable(
                problem("Message-ID", "in_progress", "this message is being posted already")
            ) from None
        await self._keep_original(target, post.post_id, raw)
        facts |= {"case_id": str(target.case_id), "post_id": str(post.post_id)}
        facts["dropped"] = [d.filename for d in dropped]
        await self._follow_up(target, dropped, mail_from, message_id, key)
        return await self._settle(key, facts, "posted")

    async def _keep_original(self, target: Target, post_id: UUID, raw: bytes) -> None:
        """The raw message as an attachment of the post: nothing of the mail is ever lost."""
        author = target.principal
        stored = await self.originals.keep(target.case_id, post_id, raw, author.id)
        event = AttachmentAdded(
            event_id=uuid5(post_id, "attachment.added:original message"),
            case_id=target.case_id,
            attachment=stored,
            post_id=post_id,
            author=author.actor,
        )
        topic = self.intake.topics.case_events
        await self.intake.publisher.publish(topic, str(target.case_id), [event])

    async def _follow_up(
        self,
        target: Target,
        dropped: list[mail_logic.Dropped],
        mail_from: str,
        message_id: str | None,
        key: str,
    ) -> None:
        """Tell the sender what the post left out, and that a closed case stays closed."""
        url = f"{self.settings.portal_url.rstrip('/')}/cases/{target.case_number}"
        if dropped:
            answer = mail_logic.dropped_notice(target.case_number, dropped, url)
            await self._answer(answer, mail_from, message_id, f"{key}:dropped")
        if target.status is Status.CLOSED and target.principal.kind is ActorKind.CONTACT:
            zone = await self.intake.zones.zone_of(target.account_id)
            closed_at = target.closed_at
            reopenable = closed_at is not None and can_reopen(closed_at, utcnow(), zone)
            answer = mail_logic.closed_notice(target.case_number, reopenable, url)
            await self._answer(answer, mail_from, message_id, f"{key}:closed")

    async def _answer(
        self, answer: Answer, to: str, in_reply_to: str | None, key: str, required: bool = False
    ) -> None:
        """Send one answer; a required one (a bounce) that fails makes the MTA retry."""
        try:
            recipient = Address(addr_spec=to.strip("<> "))
        except (HeaderParseError, ValueError, IndexError):
            log.info("no answer: %r is not an address", to)
            return
        domain = self.settings.mail_domain
        own_id = f"<inbound.{uuid5(mail_logic.INBOUND_POSTS, key).hex}@{domain}>"
        mail = mail_logic.compose(
            answer, str(recipient), self.settings.mail_from, in_reply_to, own_id
        )
        try:
            await self.send(mail)
        except (aiosmtplib.SMTPException, OSError) as exc:
            if required:
                raise Unavailable(
                    problem("smtp", "sent", f"the answer was not sent: {exc!r}")
                ) from exc
            log.warning("answer to %s not sent: %r", recipient.addr_spec, exc)

    async def _settle(self, key: str, facts: dict[str, Any], outcome: str, **more: Any) -> str:
        await self.mail_log.record(key, {**facts, **more, "outcome": outcome})
        log.info("mail from %s: %s %s", facts.get("sender"), outcome, more.get("reason", ""))
        self.outcomes.labels(outcome).inc()
        return ACCEPTED


class InboundHandler:
    """aiosmtpd handler: any recipient (the relay decides which reach us), then `receive`."""

    def __init__(self, inbound: InboundMail) -> None:
        self.inbound = inbound

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Answer only when the message's outcome is durable."""
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        mail_from = envelope.mail_from or ""
        return await self.inbound.receive(mail_from, list(envelope.rcpt_tos), raw)


def smtp_sender(settings: Settings) -> Send:
    """Sends our answers through the configured SMTP server."""

    async def send(mail: EmailMessage) -> None:
        await aiosmtplib.send(
            mail, hostname=settings.smtp_host, port=settings.smtp_port, timeout=10
        )

    return send


def create_inbound_app(settings: Settings | None = None, send: Send | None = None) -> FastAPI:
    """The inbound mail process: the SMTP listener, and /healthz, /readyz and /metrics.

    Raises ProductionSettingsError in production without a secret MAIL_REPLY_KEY.
    """
    settings = settings or Settings()
    refuse_local_secrets(settings, (*settings.required_secrets, "mail_reply_key"))
    registry = CollectorRegistry()
    mongo = mongo_client(settings)
    db = mongo[settings.mongo_database]
    intake = _intake(settings, db)
    outcomes = Counter(
        "inbound_mail_total", "Inbound messages by outcome", ["outcome"], registry=registry
    )
    inbound = InboundMail(
        settings=settings,
        intake=intake,
        senders=Senders(intake.directory),
        mail_log=MailLog(db),
        originals=Originals(intake.attachments),
        limiter=TokenBucket(
            rate=settings.inbound_rate_per_minute / 60, burst=settings.inbound_rate_burst
        ),
        send=send or smtp_sender(settings),
        outcomes=outcomes,
    )
    listening: dict[str, bool] = {"smtp": False}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await inbound.mail_log.ensure_indexes()
        await intake.attachments.ensure_indexes()
        connecting = asyncio.create_task(_connect(settings, intake))
        server = await _listen(settings, InboundHandler(inbound))
        listening["smtp"] = True
        log.info(
            "inbound mail: SMTP on %s:%s", settings.inbound_smtp_host, settings.inbound_smtp_port
        )
        try:
            yield
        finally:
            listening["smtp"] = False
            server.close()
            await server.wait_closed()
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
            await intake.publisher.stop()
            await mongo.close()

    app = new_app("Intake inbound mail", "Replies by email become case posts.", lifespan)
    app.state.inbound = inbound

    async def smtp_ready() -> bool:
        return listening["smtp"]

    async def kafka_ready() -> bool:
        return intake.publisher.ready

    checks: dict[str, Check] = {
        "smtp": smtp_ready,
        "kafka": kafka_ready,
        "mongo": partial(mongo_reachable, mongo),
    }
    app.include_router(ops_router(checks=checks, registry=registry))
    return app


async def _listen(settings: Settings, handler: InboundHandler) -> asyncio.Server:
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=settings.inbound_max_message_bytes,
            enable_SMTPUTF8=True,
            hostname=settings.mail_domain,
            ident="support portal inbound mail",
        )

    return await loop.create_server(
        protocol, host=settings.inbound_smtp_host, port=settings.inbound_smtp_port
    )


async def _connect(settings: Settings, intake: Intake) -> None:
    """Connect the publisher, retrying while Kafka is away (messages get 451 meanwhile)."""
    while True:
        try:
            await ensure_topics(settings.kafka_bootstrap_servers, settings.topics.all_specs())
            await intake.publisher.start()
            return
        except Exception as exc:  # Kafka away: answer 451 and keep trying
            log.warning(
                "Kafka unreachable (%r); retrying in %.0f s", exc, settings.kafka_retry_seconds
            )
            await intake.publisher.stop()
            await asyncio.sleep(settings.kafka_retry_seconds)


def run(settings: Settings) -> None:
    """`python -m intake inbound`: serve the listener until SIGTERM."""
    configure_logging(f"{settings.service_name}-inbound", settings.log_level, settings.log_format)
    app = create_inbound_app(settings)
    serve(app, settings, port=settings.inbound_http_port)
