"""SMTP delivery over a few kept-open aiosmtplib connections, with retry and reconnect."""

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import quote

import httpx
from aiosmtplib import (
    SMTP,
    SMTPAuthenticationError,
    SMTPDataError,
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPStatus,
)
from aiosmtplib.email import flatten_message
from pydantic import SecretStr

from notify.errors import MailDeferred, MailRejected
from notify.logic import Verdict, smtp_verdict, wire_header_names
from shared.smtp import SmtpAccess, SmtpSecurity, tls_context

log = logging.getLogger("notify.mailer")

BeforeEnd = Callable[[], Awaitable[None]]
"""Awaited after the message body is written and before the end-of-data dot, the server's
point of no return; raising aborts the mail (the server discards data never terminated)."""

_LINE_END = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")


class Transport(Protocol):
    """What delivery needs from a mailer (the real one or a test fake)."""

    async def send(
        self, message: EmailMessage, recipient: str, before_end: BeforeEnd | None = None
    ) -> None:
        """Deliver `message` to `recipient`, awaiting `before_end` before each end of data;
        raise MailRejected / MailDeferred, or what `before_end` raised."""
        ...


class Receipts(Protocol):
    """What the mail server can tell about a message it may hold already."""

    async def holds(self, message_id: str, recipient: str) -> bool | None:
        """Whether this message is stored for `recipient`; None when it cannot tell."""
        ...


class HttpReceipts:
    """A mail store's lookup by Message-ID over HTTP: GET `template` with `{message_id}` and,
    if present, `{recipient}` filled in (URL-encoded). 200 with a non-empty JSON list, or an
    object whose `total` or `messages_count` is positive, means held; an empty one or 404
    means not held; any other answer, or none, means unknown."""

    def __init__(self, template: str, timeout: float = 5.0) -> None:
        if "{message_id}" not in template:
            raise ValueError(f"the lookup URL {template!r} must contain {{message_id}}")
        self.template = template
        self.timeout = timeout

    async def holds(self, message_id: str, recipient: str) -> bool | None:
        """Ask the mail store; None when it does not answer plainly."""
        url = self.template.format(
            message_id=quote(message_id, safe=""), recipient=quote(recipient, safe="")
        )
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                reply = await client.get(url)
            if reply.status_code == httpx.codes.NOT_FOUND:
                return False
            reply.raise_for_status()
            return _held(reply.json())
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("receipt lookup of %s failed: %s", message_id, exc)
            return None


def _held(body: object) -> bool | None:
    if isinstance(body, list):
        return bool(body)
    if isinstance(body, dict):
        count = body.get("total", body.get("messages_count"))
        if isinstance(count, int):
            return count > 0
    return None


class Mailer:
    """`connections` SMTP sessions kept open and reused; a broken one reconnects on next use."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        access: SmtpAccess | None = None,
        connections: int = 4,
        timeout: float = 10.0,
        data_timeout: float = 120.0,
        attempts: int = 3,
        base_delay: float = 0.2,
        max_delay: float = 2.0,
    ) -> None:
        self.sender = sender
        self.where = f"{host}:{port}"
        self.access = access or SmtpAccess()
        self.data_timeout = data_timeout
        self.attempts = attempts
        self.base_delay, self.max_delay = base_delay, max_delay
        self._all = [self._client(host, port, timeout) for _ in range(connections)]
        self._idle: asyncio.Queue[SMTP] = asyncio.Queue()
        for client in self._all:
            self._idle.put_nowait(client)

    def _client(self, host: str, port: int, timeout: float) -> SMTP:
        """A session that never upgrades or logs in on its own: `_open` does both, checked."""
        secured = self.access.security is not SmtpSecurity.NONE
        return SMTP(
            hostname=host,
            port=port,
            timeout=timeout,
            start_tls=False,
            use_tls=self.access.security is SmtpSecurity.TLS,
            tls_context=(self.access.tls or tls_context()) if secured else None,
        )

    async def send(
        self, message: EmailMessage, recipient: str, before_end: BeforeEnd | None = None
    ) -> None:
        """Send with bounded retries; 5xx raises MailRejected at once, a dead server
        MailDeferred after the last attempt, a 4xx that persists MailRejected."""
        failure = Failure(Verdict.DROP_CONNECTION, None, "not tried")
        for attempt in range(1, self.attempts + 1):
            outcome = await self._attempt(message, recipient, before_end or _nothing)
            if outcome is None:
                return
            failure = outcome
            if failure.verdict is Verdict.REJECT:
                raise MailRejected(failure.code, failure.text)
            if attempt < self.attempts:
                await asyncio.sleep(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
        if failure.verdict is Verdict.RETRY:
            reason = f"{failure.text} (still refused after {self.attempts} attempts)"
            raise MailRejected(failure.code, reason)
        raise MailDeferred(f"SMTP unavailable after {self.attempts} attempts: {failure.text}")

    async def _attempt(
        self, message: EmailMessage, recipient: str, before_end: BeforeEnd
    ) -> "Failure | None":
        client = await self._idle.get()
        try:
            if not client.is_connected:
                await self._open(client)
            await self._transaction(client, message, recipient, before_end)
            return None
        except (SMTPException, OSError) as exc:
            failure = classify(exc)
            if failure.verdict is not Verdict.RETRY:
                client.close()  # reconnect on next use
            log.warning("smtp attempt to %s failed: %s", recipient, failure.text)
            return failure
        except (MailRejected, MailDeferred):
            raise  # refused before MAIL FROM, or no session opened: nothing to clean up
        except BaseException:
            client.close()  # mid-DATA: dropping the session makes the server discard the mail
            raise
        finally:
            self._idle.put_nowait(client)

    async def _open(self, client: SMTP) -> None:
        """Connect (over TLS when implicit), then STARTTLS and the login as configured. A
        server that does not offer a required STARTTLS, or refuses the login, is never sent
        to (in clear or unauthenticated): MailDeferred at once, the mail stays queued."""
        await client.connect()
        try:
            if self.access.security is SmtpSecurity.STARTTLS:
                await self._start_tls(client)
            if self.access.username is not None and self.access.password is not None:
                await self._login(client, self.access.username, self.access.password)
        except BaseException:
            client.close()
            raise

    async def _start_tls(self, client: SMTP) -> None:
        await client.ehlo()
        if not client.supports_extension("starttls"):
            raise self._refused(
                "does not offer STARTTLS, which NOTIFY_SMTP_SECURITY=starttls requires: "
                "nothing is sent in clear"
            )
        await client.starttls()

    async def _login(self, client: SMTP, username: str, password: SecretStr) -> None:
        await client.ehlo()
        if not client.supports_extension("auth"):
            raise self._refused(
                f"offers no AUTH to log in as {username!r} (NOTIFY_SMTP_SECURITY="
                f"{self.access.security.value}; many servers offer AUTH only over TLS)"
            )
        try:
            await client.login(username, password.get_secret_value())
        except SMTPAuthenticationError as exc:
            raise self._refused(
                f"refused the login as {username!r}: {exc.code} {exc.message}; check "
                "NOTIFY_SMTP_USERNAME and NOTIFY_SMTP_PASSWORD"
            ) from None

    def _refused(self, why: str) -> MailDeferred:
        """A session the configuration does not allow us to use: logged as an error, the
        mail deferred like an outage (retried later, never dead-lettered)."""
        log.error("SMTP server %s %s; mail stays queued", self.where, why)
        return MailDeferred(f"SMTP server {self.where} {why}")

    async def _transaction(
        self, client: SMTP, message: EmailMessage, recipient: str, before_end: BeforeEnd
    ) -> None:
        """MAIL, RCPT, DATA and the body, then `before_end`, then the dot and its reply."""
        eight_bit = client.supports_extension("8BITMIME")
        body = _data_of(flatten_message(message, cte_type="8bit" if eight_bit else "7bit"))
        _only_its_headers(message, body)
        try:
            await client.mail(self.sender, options=["BODY=8BITMIME"] if eight_bit else [])
            await client.rcpt(recipient)
            start = await client.execute_command(b"DATA")
            if start.code != SMTPStatus.start_input:
                raise SMTPDataError(start.code, start.message)
        except SMTPResponseException:
            await _reset(client)
            raise
        await _finish(client, body, before_end, self.data_timeout)

    async def aclose(self) -> None:
        """Say goodbye on every open session."""
        for client in self._all:
            if client.is_connected:
                try:
                    await client.quit()
                except (SMTPException, OSError):
                    client.close()


async def _finish(client: SMTP, body: bytes, before_end: BeforeEnd, wait: float) -> None:
    """Body, `before_end`, dot; the reply to the dot gets its own long timeout (RFC 5321
    4.5.3.2.6 says 10 minutes): giving up on a slow server's 250 would send the mail twice."""
    protocol = client.protocol
    if protocol is None:
        raise SMTPServerDisconnected("connection lost before the message body")
    protocol.write(body)
    await before_end()
    protocol.write(b".\r\n")
    reply = await protocol.read_response(timeout=wait)
    if reply.code != SMTPStatus.completed:
        raise SMTPDataError(reply.code, reply.message)


def _only_its_headers(message: EmailMessage, body: bytes) -> None:
    """Refuse (for good) bytes whose header block is not exactly the message's headers: a
    value that serialized into a header or a body of its own must never reach a server."""
    wire = wire_header_names(body)
    if wire != list(message.keys()):
        raise MailRejected(None, f"refused to send: headers {message.keys()} serialize as {wire}")


def _data_of(flat: bytes) -> bytes:
    """The message as DATA carries it: CRLF line ends, leading dots doubled, no final dot."""
    text = _LINE_END.sub(b"\r\n", flat)
    if not text.endswith(b"\r\n"):
        text += b"\r\n"
    return _LEADING_DOT.sub(b"..", text)


async def _reset(client: SMTP) -> None:
    """RSET after a refusal, so the kept-open session starts the next mail clean."""
    try:
        await client.rset()
    except (SMTPException, OSError):
        client.close()


async def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Failure:
    """Why one SMTP attempt failed and what that means for the mail."""

    verdict: Verdict
    code: int | None
    text: str


def classify(exc: BaseException) -> Failure:
    """Reply codes decide (5xx final, 4xx retry); anything else is a connection fault."""
    if isinstance(exc, SMTPRecipientsRefused) and exc.recipients:
        first = exc.recipients[0]
        return Failure(smtp_verdict(first.code), first.code, f"{first.code} {first.message}")
    if isinstance(exc, SMTPResponseException):
        return Failure(smtp_verdict(exc.code), exc.code, f"{exc.code} {exc.message}")
    if isinstance(exc, SMTPNotSupported):
        return Failure(Verdict.REJECT, None, f"{type(exc).__name__}: {exc}")
    return Failure(Verdict.DROP_CONNECTION, None, f"{type(exc).__name__}: {exc}")
