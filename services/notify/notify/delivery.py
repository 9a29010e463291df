"""Once per (event, recipient): claim in the sent log, send, record, or dead-letter."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from notify.errors import MailDeferred, MailRejected
from notify.mailer import Transport
from notify.models import DeadMail, Mail
from notify.store import SentLog, SentStatus
from shared.messages import utcnow

log = logging.getLogger("notify.delivery")

DeadLetter = Callable[[DeadMail], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    """What happened to one mail."""

    mail: Mail
    status: SentStatus | None
    error: Exception | None = None


class Delivery:
    """Sends each mail once: `sending` is durable before SMTP, `sent` right after the 250."""

    def __init__(
        self,
        sent: SentLog,
        transport: Transport,
        dead_letter: DeadLetter,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.sent = sent
        self.transport = transport
        self.dead_letter = dead_letter
        self.marks = Coalescer(lambda keys: sent.mark(keys, SentStatus.SENT))
        self.counter = Counter(
            "notify_mails",
            "Mails by outcome",
            ["outcome"],
            registry=registry if registry is not None else CollectorRegistry(),
        )

    async def deliver(self, mails: list[Mail]) -> None:
        """Send what was not sent before; raise MailDeferred (transient) if SMTP is away,
        after recording every mail that did go out."""
        deferred = await self.deliver_some([mails])
        if deferred:
            raise MailDeferred(f"{len(deferred)} mails deferred: SMTP unavailable")

    async def deliver_some(self, waves: list[list[Mail]]) -> set[str]:
        """Claim every mail in one round trip, then send wave after wave (a wave's mails in
        parallel, so each recipient gets a case's mails in order); return deferred keys."""
        todo = {mail.key for mail in await self.sent.claim([m for w in waves for m in w])}
        outcomes: list[Outcome] = []
        for wave in waves:
            sending = [mail for mail in wave if mail.key in todo]
            outcomes += await asyncio.gather(*(self._one(mail) for mail in sending))
        deferred = [o for o in outcomes if o.status is None]
        if deferred:
            self.counter.labels("deferred").inc(len(deferred))
            log.warning("%d mails deferred: %s", len(deferred), deferred[0].error)
        return {o.mail.key for o in deferred}

    async def _one(self, mail: Mail) -> Outcome:
        try:
            await self.transport.send(mail.message, mail.recipient)
        except MailRejected as exc:
            outcome = Outcome(mail, SentStatus.DEAD, exc)
            await self._bury(outcome)
            return outcome
        except MailDeferred as exc:
            return Outcome(mail, None, exc)
        await self.marks.add(mail.key)  # durable within one round trip of the 250
        self.counter.labels("sent").inc()
        return Outcome(mail, SentStatus.SENT)

    async def _bury(self, outcome: Outcome) -> None:
        error = outcome.error
        code = error.code if isinstance(error, MailRejected) else None
        await self.dead_letter(DeadMail.of(outcome.mail, str(error), code, utcnow()))
        await self.sent.mark([outcome.mail.key], SentStatus.DEAD, str(error))
        self.counter.labels("dead").inc()
        log.error(
            "dead-lettered mail %s to %s: %s",
            outcome.mail.message_id,
            outcome.mail.recipient,
            error,
        )


class Coalescer:
    """Group commit: keys added while a write is in flight go together in the next write."""

    def __init__(self, write: Callable[[list[str]], Awaitable[None]]) -> None:
        self.write = write
        self.pending: list[tuple[str, asyncio.Future[None]]] = []
        self.task: asyncio.Task[None] | None = None

    async def add(self, key: str) -> None:
        """Return once `key` is written (or raise what the write raised)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((key, done))
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                await self.write([key for key, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    done.set_exception(exc)
            else:
                for _, done in batch:
                    done.set_result(None)
