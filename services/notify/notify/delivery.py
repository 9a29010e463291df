"""Once per (event, recipient): claim in the sent log, send, record, or dead-letter."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter
from pymongo.errors import PyMongoError

from notify.errors import AlreadyStored, ClaimLost, MailDeferred, MailRejected
from notify.mailer import Receipts, Transport
from notify.models import DeadMail, Mail
from notify.store import Claims, SentLog, SentStatus
from shared.messages import utcnow

log = logging.getLogger("notify.delivery")

DeadLetter = Callable[[DeadMail], Awaitable[None]]
Step = tuple[SentStatus, str]  # a key to move to `data` (if still ours) or to `sent`
T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    """What happened to one mail."""

    mail: Mail
    status: SentStatus | None
    error: Exception | None = None
    unsent: bool = False  # not settled, and certainly never at the server (no end of data)


@dataclass(frozen=True)
class Leases:
    """How often claims are renewed, and how long a claim held elsewhere is waited for."""

    renew_every: float = 5.0
    patience: float = 20.0
    poll: float = 0.5


class Delivery:
    """Sends each mail once: a claim (owner + lease) is durable before the batch is sent,
    `data` before the mail's SMTP transaction starts (so before its end-of-data dot), `sent`
    right after the 250 of that dot (both group-committed)."""

    def __init__(
        self,
        sent: SentLog,
        transport: Transport,
        dead_letter: DeadLetter,
        registry: CollectorRegistry | None = None,
        leases: Leases | None = None,
        lookahead: int = 8,
        receipts: Receipts | None = None,
    ) -> None:
        self.sent = sent
        self.transport = transport
        self.receipts = receipts  # asked before an in-doubt mail is sent again
        self.dead_letter = dead_letter
        self.leases = leases or Leases()
        self.active: set[str] = set()  # keys this process is sending now
        self.journal = Coalescer(self._advance)  # `data` and `sent` writes, group-committed
        # mails fenced and not finished: those on a connection plus the next ones, whose
        # `data` writes overlap the sends before them (twice the SMTP connections)
        self.lanes = asyncio.Semaphore(lookahead)
        self.renewer: asyncio.Task[None] | None = None
        self.counter = Counter(
            "notify_mails",
            "Mails by outcome (in_doubt: sent again after its end of data may have arrived; "
            "confirmed: found at the mail server instead, not sent again)",
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
        parallel, so each recipient gets a case's mails in order), then wait for the mails
        another sender holds; return the keys deferred (not settled: retry the event)."""
        waves = _once(waves)
        taken: set[str] = set()
        try:
            claims = await self._claim([m for wave in waves for m in wave], taken)
            mine = {mail.key for mail in claims.mine}
            outcomes: list[Outcome] = []
            doubtful = {mail.key for mail in claims.in_doubt}
            for wave in waves:
                outcomes += await self._send([m for m in wave if m.key in mine], doubtful)
            outcomes += await self._settle(claims.held, taken)
        finally:
            self.active -= taken
        deferred = [o for o in outcomes if o.status is None]
        if deferred:
            keys = [o.mail.key for o in deferred]
            await self.sent.release(keys, unsent=[o.mail.key for o in deferred if o.unsent])
            self.counter.labels("deferred").inc(len(deferred))
            log.warning("%d mails deferred: %s", len(deferred), deferred[0].error)
        return {o.mail.key for o in deferred}

    async def _claim(self, mails: list[Mail], taken: set[str]) -> Claims:
        """Claim in the log (a key this process is sending now is held, not ours again);
        what is ours is renewed until `deliver_some` is done with it."""
        busy = [mail for mail in mails if mail.key in self.active]
        claims = await self.sent.claim([mail for mail in mails if mail.key not in self.active])
        taken |= {mail.key for mail in claims.mine}
        self.active |= taken
        self._keep_renewing()
        if claims.resumed or claims.in_doubt:
            log.warning(
                "took over %d earlier claims (a stopped sender's, or given up): "
                "%d never reached DATA, %d in doubt",
                len(claims.resumed) + len(claims.in_doubt),
                len(claims.resumed),
                len(claims.in_doubt),
            )
        return Claims(claims.mine, claims.held + busy, claims.resumed, claims.in_doubt)

    async def _settle(self, held: list[Mail], taken: set[str]) -> list[Outcome]:
        """Wait for mails another sender holds: done when it records them, ours to send
        when its lease ends; still held after `patience`, deferred."""
        waited = 0.0
        outcomes: list[Outcome] = []
        while held and waited < self.leases.patience:
            await asyncio.sleep(self.leases.poll)
            waited += self.leases.poll
            claims = await self._claim(held, taken)
            held = claims.held
            outcomes += await self._send(claims.mine, {mail.key for mail in claims.in_doubt})
        error = MailDeferred("claimed by a live sender elsewhere")
        return outcomes + [Outcome(mail, None, error) for mail in held]

    async def _send(self, mails: list[Mail], doubtful: set[str]) -> list[Outcome]:
        sends = (self._one(mail, mail.key in doubtful) for mail in mails)
        return list(await asyncio.gather(*sends))

    async def _begin_data(self, key: str) -> bool:
        return await self.journal.add((SentStatus.DATA, key))

    async def _advance(self, steps: list[Step]) -> set[Step]:
        data = [key for status, key in steps if status is SentStatus.DATA]
        sent = [key for status, key in steps if status is SentStatus.SENT]
        ours = await self.sent.advance(data, sent)
        return {(SentStatus.DATA, k) for k in ours} | {(SentStatus.SENT, k) for k in sent}

    async def _one(self, mail: Mail, doubtful: bool) -> Outcome:
        async with self.lanes:
            before_end = Fence(self._begin_data, mail, self.doubt, fenced=True, unsure=doubtful)
            try:
                # a mail in doubt is looked up first; when the store cannot tell, again (and
                # counted) only when its end of data is about to go out
                if doubtful:
                    before_end.unsure = await self._held(mail) is None
                if not await self._begin_data(mail.key):  # `data` before the transaction
                    raise ClaimLost(f"claim on {mail.key} was taken over; not sending it")
                await self.transport.send(mail.message, mail.recipient, before_end)
            except AlreadyStored:
                self.counter.labels("confirmed").inc()
                log.info(
                    "%s to %s was stored before: not sent again", mail.message_id, mail.recipient
                )
            except MailRejected as exc:
                outcome = Outcome(mail, SentStatus.DEAD, exc)
                await self._bury(outcome)
                return outcome
            except (MailDeferred, ClaimLost) as exc:
                # no end of data went out from here (nor, unless in doubt, from before)
                unsent = before_end.attempts == 0 and not doubtful
                return Outcome(mail, None, exc, unsent=unsent)
            else:
                self.counter.labels("sent").inc()
                # the request that caused it, so one grep follows a case into its mail
                traced = {"request_id": mail.request_id} if mail.request_id else None
                log.info("mailed %s (%s)", mail.message_id, mail.template, extra=traced)
        await self.journal.add((SentStatus.SENT, mail.key))  # within two writes of the 250
        return Outcome(mail, SentStatus.SENT)

    async def _held(self, mail: Mail) -> bool | None:
        """Whether the mail store holds the mail (raise AlreadyStored), lacks it (False) or
        cannot tell (None: no receipts configured, or the lookup failed)."""
        held = await self.receipts.holds(mail.message_id, mail.recipient) if self.receipts else None
        if held:
            raise AlreadyStored(f"{mail.message_id} is stored at the mail server")
        return held

    async def doubt(self, mail: Mail) -> None:
        """Right before the end of data of a mail whose earlier end of data may have arrived:
        raise AlreadyStored when the mail store holds it; let it go out counted in doubt
        when the store cannot tell."""
        held = await self._held(mail)
        if held is False:
            log.info(
                "%s to %s is not at the mail server: sent again", mail.message_id, mail.recipient
            )
            return
        self.counter.labels("in_doubt").inc()
        log.warning(
            "in-doubt resend of %s to %s: the end of data went out before, the 250 was "
            "never recorded; same Message-ID",
            mail.message_id,
            mail.recipient,
        )

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

    def _keep_renewing(self) -> None:
        if self.renewer is None or self.renewer.done():
            self.renewer = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        """Renew the leases of the keys being sent until none is left; a failed renewal is
        retried next time (a lease that ends is taken over, and the fence stops us)."""
        while self.active:
            await asyncio.sleep(self.leases.renew_every)
            with contextlib.suppress(PyMongoError):
                await self.sent.renew(sorted(self.active))


def _once(waves: list[list[Mail]]) -> list[list[Mail]]:
    """The waves without a second mail of the same key (the first one is sent)."""
    seen: set[str] = set()
    unique: list[list[Mail]] = []
    for wave in waves:
        unique.append([])
        for mail in wave:
            if mail.key not in seen:
                seen.add(mail.key)
                unique[-1].append(mail)
    return unique


class Fence:
    """The step before each end of data: `data` recorded while the claim is still ours (on
    the first attempt not again when the caller `fenced` already). Every later attempt is in
    doubt (an earlier end of data may have arrived), and so is the first when `unsure`:
    `doubt` decides before it goes out. `attempts` counts the ends of data about to go out."""

    def __init__(
        self,
        begin_data: Callable[[str], Awaitable[bool]],
        mail: Mail,
        doubt: Callable[[Mail], Awaitable[None]],
        *,
        fenced: bool = False,
        unsure: bool = False,
    ) -> None:
        self.begin_data, self.mail, self.doubt, self.fenced = begin_data, mail, doubt, fenced
        self.unsure = unsure
        self.attempts = 0

    async def __call__(self) -> None:
        self.attempts += 1
        if (self.attempts > 1 or not self.fenced) and not await self.begin_data(self.mail.key):
            raise ClaimLost(f"claim on {self.mail.key} was taken over; not sending it")
        if self.attempts > 1 or self.unsure:
            await self.doubt(self.mail)


class Coalescer(Generic[T]):
    """Group commit: items added while a write is in flight go together in the next write
    (on a server that syncs every write, one write per mail would cap the rate)."""

    def __init__(self, write: Callable[[list[T]], Awaitable[set[T]]]) -> None:
        self.write = write
        self.pending: list[tuple[T, asyncio.Future[bool]]] = []
        self.task: asyncio.Task[None] | None = None

    async def add(self, item: T) -> bool:
        """Once `item` is written: whether the write took it (or raise what the write raised)."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.pending.append((item, done))
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                taken = await self.write([item for item, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    done.set_exception(exc)
            else:
                for item, done in batch:
                    done.set_result(item in taken)
