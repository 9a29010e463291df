"""SMTP delivery over a few kept-open aiosmtplib connections, with retry and reconnect."""

import asyncio
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from aiosmtplib import (
    SMTP,
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseException,
)

from notify.errors import MailDeferred, MailRejected
from notify.logic import Verdict, smtp_verdict

log = logging.getLogger("notify.mailer")


class Transport(Protocol):
    """What delivery needs from a mailer (the real one or a test fake)."""

    async def send(self, message: EmailMessage, recipient: str) -> None:
        """Deliver `message` to `recipient`, or raise MailRejected / MailDeferred."""
        ...


class Mailer:
    """`connections` SMTP sessions kept open and reused; a broken one reconnects on next use."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        connections: int = 4,
        timeout: float = 10.0,
        attempts: int = 3,
        base_delay: float = 0.2,
        max_delay: float = 2.0,
    ) -> None:
        self.sender = sender
        self.attempts = attempts
        self.base_delay, self.max_delay = base_delay, max_delay
        self._all = [self._client(host, port, timeout) for _ in range(connections)]
        self._idle: asyncio.Queue[SMTP] = asyncio.Queue()
        for client in self._all:
            self._idle.put_nowait(client)

    @staticmethod
    def _client(host: str, port: int, timeout: float) -> SMTP:
        return SMTP(hostname=host, port=port, timeout=timeout, start_tls=False, use_tls=False)

    async def send(self, message: EmailMessage, recipient: str) -> None:
        """Send with bounded retries; 5xx raises MailRejected at once, a dead server
        MailDeferred after the last attempt, a 4xx that persists MailRejected."""
        failure = Failure(Verdict.DROP_CONNECTION, None, "not tried")
        for attempt in range(1, self.attempts + 1):
            outcome = await self._attempt(message, recipient)
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

    async def _attempt(self, message: EmailMessage, recipient: str) -> "Failure | None":
        client = await self._idle.get()
        try:
            if not client.is_connected:
                await client.connect()
            await client.send_message(message, sender=self.sender, recipients=[recipient])
            return None
        except (SMTPException, OSError) as exc:
            failure = classify(exc)
            if failure.verdict is not Verdict.RETRY:
                client.close()  # reconnect on next use
            log.warning("smtp attempt to %s failed: %s", recipient, failure.text)
            return failure
        finally:
            self._idle.put_nowait(client)

    async def aclose(self) -> None:
        """Say goodbye on every open session."""
        for client in self._all:
            if client.is_connected:
                try:
                    await client.quit()
                except (SMTPException, OSError):
                    client.close()


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
