"""Notify's use cases: case events applied to views and mailed, notices mailed, dead mail resent."""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar
from uuid import UUID

from pydantic import ValidationError
from pymongo.errors import PyMongoError

from notify import logic
from notify.delivery import Delivery, Fence
from notify.errors import (
    ClaimLost,
    MailDeferred,
    MailRejected,
    RecipientPending,
    StoreUnavailable,
)
from notify.mailer import Transport
from notify.models import CaseView, DeadMail, Mail, Recipient
from notify.render import Composer
from notify.store import CaseViews, Directory, NoticeLog, ReplayLog, SentStatus
from shared import tracing
from shared.enums import Department
from shared.events import CASE_EVENTS, AnyCaseEvent, AnyNoticeEvent
from shared.kafka import Poison, Record, Transient
from shared.messages import Message, UnknownMessage, decode, utcnow

log = logging.getLogger("notify.service")

Item = tuple[Record | None, AnyCaseEvent]
T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    """When mail is sent at all, how long an unknown recipient is waited for, and how often
    parked notices are tried again."""

    domain: str
    max_age: timedelta = timedelta(days=7)
    grace: timedelta = timedelta(seconds=30)
    retry_every: float = 1.0
    clock: Callable[[], datetime] = field(default=utcnow)


@dataclass
class CaseRun:
    """One case's events of a batch, worked through: its view after them and its mail."""

    before: CaseView | None
    after: CaseView | None
    mails: list[list[Mail]] = field(default_factory=list)
    fault: Exception | None = None

    def clean(self, deferred: set[str]) -> bool:
        """Everything applied and every mail sent or dead-lettered."""
        keys = (m.key for wave in self.mails for m in wave)
        return self.fault is None and not any(key in deferred for key in keys)


@dataclass
class Notifier:
    """Case events and notices made mail; its collaborators are injected (fakes in tests)."""

    cases: CaseViews
    notices: NoticeLog
    book: Directory
    composer: Composer
    delivery: Delivery
    timing: Timing
    poison: Poison
    concurrency: int = 8  # cases rendered per chunk; chunks are sent while the next renders
    # notices are worked one at a time, by the subscriber or by the retry of parked ones
    _notice_turn: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    async def on_case_batch(self, records: list[Record]) -> None:
        """Decode a polled batch (poison alone to the DLQ, unknown types skipped), apply it."""
        items: list[Item] = []
        for record in records:
            event = await self._decode(record)
            if event is not None:
                items.append((record, event))
        await self.apply(items)

    async def on_case_event(self, event: AnyCaseEvent) -> None:
        """Apply one case event."""
        await self.apply([(None, event)])

    async def apply(self, items: list[Item]) -> None:
        """Apply events; a Mongo error fails the batch as transient (a store fault must not
        dead-letter a whole batch of good events)."""
        try:
            await self._apply(items)
        except PyMongoError as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def _apply(self, items: list[Item]) -> None:
        """Views read once and written once per batch; each case's events in order, cases
        concurrently; all mail claimed, sent and recorded together. A case with a transient
        fault keeps its stored view, so its redelivery starts from the same state."""
        by_case: dict[UUID, list[Item]] = defaultdict(list)
        for item in items:
            by_case[item[1].case_id].append(item)
        views = await self.cases.many(list(by_case))
        runs: list[CaseRun] = []
        sending: list[asyncio.Task[set[str]]] = []
        for chunk in _chunks(list(by_case.items()), self.concurrency):
            planned = [await self._run(views.get(case_id), run) for case_id, run in chunk]
            runs += planned
            # this chunk's SMTP waits overlap the rendering of the next chunk
            sending.append(asyncio.create_task(self.delivery.deliver_some(_waves(planned))))
        deferred = set().union(*await asyncio.gather(*sending))
        await self.cases.save_all([r.after for r in runs if r.after and r.clean(deferred)])
        mails = sum(len(wave) for run in runs for wave in run.mails)
        log.info("applied %d events of %d cases: %d mails, %d deferred",
                 len(items), len(runs), mails, len(deferred))  # fmt: skip
        fault = next((run.fault for run in runs if run.fault), None)
        if fault is not None:
            raise fault
        if deferred:
            raise MailDeferred(f"{len(deferred)} mails deferred: SMTP unavailable")

    async def _run(self, view: CaseView | None, run: list[Item]) -> CaseRun:
        result = CaseRun(view, view)
        for record, event in run:
            try:
                with _request_of(record):  # its log lines and mail carry the record's id
                    result.after, mails = await self._step(result.after, event)
            except Transient as exc:
                result.fault = exc  # later events of this case wait for the redelivery
                return result
            except PyMongoError as exc:  # the directory away is no fault of the event's
                result.fault = StoreUnavailable(f"{type(exc).__name__}: {exc}")
                return result
            except Exception as exc:
                await self.poison(record, exc)
                continue
            if mails:
                result.mails.append(mails)
            await asyncio.sleep(0)  # rendering is CPU work: let sending progress
        return result

    async def _step(
        self, view: CaseView | None, event: AnyCaseEvent
    ) -> tuple[CaseView | None, list[Mail]]:
        if view is not None and logic.applied(view, event.event_id):
            return view, []  # a redelivery of an event whose mail is recorded
        step = logic.step(view, event, self.composer.threading)
        if step.view is None:
            log.warning("no view of case %s; %s ignored", event.case_id, type(event).__name__)
            return view, []
        mails = await self._compose(step.view, step.plan, event)
        return logic.remember(step.view, event.event_id), mails

    async def _compose(self, view: CaseView, plan: logic.Plan | None, event: Message) -> list[Mail]:
        if plan is None or self._too_old(event):
            return []
        people = await self._people(plan.recipients, view.account_id, event.occurred_at)
        if plan.staff:
            staff = await self._staff(plan.staff, view.account_id, event.occurred_at)
            people = logic.joined(people, staff)
        if plan.department is not None:
            people = logic.joined(people, await self._department(plan.department, view))
        people = [p for p in people if p.key not in plan.exclude]
        event_id, at = event.event_id, event.occurred_at
        return self.composer.case_mails(plan, view, people, event_id, at)

    async def _decode(self, record: Record) -> AnyCaseEvent | None:
        try:
            return decode(CASE_EVENTS, record.value or b"")
        except UnknownMessage:
            return None  # a type added after this reader was built
        except ValidationError as exc:
            await self.poison(record, exc)
            return None

    async def on_notice(self, event: AnyNoticeEvent) -> None:
        """Mail a new revision of a notice to the authorized contacts of affected districts.
        One with nobody to mail is parked and the partition moves on: `retry_parked` mails it
        once its contacts arrive, or gives up on it after the grace."""
        async with self._notice_turn:
            first = await self._first_of_revision(event)
            if first is None:
                return
            event, notice = first, first.notice
            if not logic.notice_wanted(notice, await self.notices.mailed_revision(notice.id)):
                return
            if self._too_old(event):
                await self.notices.set_mailed(notice.id, notice.revision, event.occurred_at)
                return
            people = await self._notice_people(event)
            if not people:
                until = self.timing.clock() + self.timing.grace
                await self.notices.park(event, until, tracing.current())
                log.info("notice %s r%d has nobody to mail yet: parked for %s",
                         notice.id, notice.revision, self.timing.grace)  # fmt: skip
                return
            await self._mail_notice(event, people)

    async def _first_of_revision(self, event: AnyNoticeEvent) -> AnyNoticeEvent | None:
        """The event to work on: the parked one when it has this revision (a revision is
        mailed once, under the Message-IDs of its first event), none when the parked one is
        newer, else this one."""
        parked = await self.notices.parked_notice(event.notice.id)
        if parked is None or parked.event.notice.revision < event.notice.revision:
            return event
        return parked.event if parked.event.notice.revision == event.notice.revision else None

    async def retry_parked(self) -> None:
        """One pass over the parked notices: mail those whose contacts have arrived, settle
        those whose grace has passed as mailed to nobody, keep the others; one that fails
        for good is dropped (logged), so it cannot hold back the rest."""
        async with self._notice_turn:
            for parked in await self.notices.parked():
                try:
                    with tracing.bound(parked.request_id):
                        await self._retry(parked.event, parked.until)
                except (Transient, PyMongoError):
                    raise  # SMTP or Mongo away: every parked notice waits for the next pass
                except Exception:
                    notice = parked.event.notice
                    log.exception("parked notice %s r%d cannot be mailed; dropped",
                                  notice.id, notice.revision)  # fmt: skip
                    await self.notices.unpark(notice.id, notice.revision)

    async def _retry(self, event: AnyNoticeEvent, until: datetime) -> None:
        notice = event.notice
        if not logic.notice_wanted(notice, await self.notices.mailed_revision(notice.id)):
            await self.notices.unpark(notice.id, notice.revision)  # a newer one was mailed
            return
        people = await self._notice_people(event)
        if people:
            await self._mail_notice(event, people)
        elif self.timing.clock() > until:
            log.warning("notice %s r%d: no contact of its districts arrived; mailed to nobody",
                        notice.id, notice.revision)  # fmt: skip
            await self.notices.set_mailed(notice.id, notice.revision, event.occurred_at)
            await self.notices.unpark(notice.id, notice.revision)

    async def _mail_notice(self, event: AnyNoticeEvent, people: list[Recipient]) -> None:
        """Send, then record the revision as mailed (and no longer parked)."""
        notice = event.notice
        mails = self.composer.notice_mails(notice, people, event.event_id, event.occurred_at)
        await self.delivery.deliver(mails)
        await self.notices.set_mailed(notice.id, notice.revision, event.occurred_at)
        await self.notices.unpark(notice.id, notice.revision)

    async def _notice_people(self, event: AnyNoticeEvent) -> list[Recipient]:
        notice = event.notice
        contacts = await self.book.contacts_in(notice.affected_account_ids)
        chosen = [c for c in contacts if logic.notice_addressee(c, notice)]
        zones = {c.id: await self.book.zone(logic.notice_account(c, notice)) for c in chosen}
        return [logic.person_of(c, zones[c.id]) for c in chosen]

    async def _people(self, ids: tuple[str, ...], account_id: str, at: datetime) -> list[Recipient]:
        contacts = await self.book.contacts(list(ids))
        zone = await self.book.zone(account_id)
        people, missing = logic.people_of(ids, contacts, zone, account_id)
        self._wait_for(missing, at, "contacts")
        return people

    async def _staff(self, ids: tuple[str, ...], account_id: str, at: datetime) -> list[Recipient]:
        """Staff to mail, at their directory address, with times in the case's district zone."""
        members = await self.book.staff(list(ids))
        people, missing = logic.staff_of(ids, members, await self.book.zone(account_id))
        self._wait_for(missing, at, "staff")
        return people

    async def _department(self, department: Department, view: CaseView) -> list[Recipient]:
        """Every active staff member of the department (nobody to wait for: it may be none)."""
        members = await self.book.staff_in(department)
        if not members:
            log.warning("case %s: no active staff in %s to mail", view.case_number, department)
        zone = await self.book.zone(view.account_id)
        people, _ = logic.staff_of([m.id for m in members], {m.id: m for m in members}, zone)
        return people

    def _wait_for(self, missing: list[str], at: datetime, kind: str) -> None:
        """Unknown people of a fresh event are waited for (the directory may lag); of an older
        one, skipped."""
        if missing and logic.still_waiting(at, self.timing.clock(), self.timing.grace):
            raise RecipientPending(f"{kind} {missing} are not in the directory yet")
        if missing:
            log.warning("skipping recipients unknown to the directory: %s %s", kind, missing)

    def _too_old(self, event: Message) -> bool:
        return logic.too_old(event.occurred_at, self.timing.clock(), self.timing.max_age)


async def retry_parked_forever(notifier: Notifier) -> None:
    """Run `retry_parked` every `timing.retry_every` seconds until cancelled; a failed pass
    (Mongo or SMTP away) is logged and tried again next time, the notices stay parked."""
    every = notifier.timing.retry_every
    while True:
        await asyncio.sleep(every)
        try:
            await notifier.retry_parked()
        except Exception:
            log.exception("retrying parked notices failed; trying again in %.1f s", every)


def _request_of(record: Record | None) -> AbstractContextManager[None]:
    """Bind a batch record's request id (x-request-id); a single event's is bound already."""
    if record is None:
        return contextlib.nullcontext()
    return tracing.bound(tracing.from_kafka(getattr(record, "headers", None)))


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _waves(runs: list[CaseRun]) -> list[list[Mail]]:
    """Wave k holds every case's k-th batch of mail: cases in parallel, each one in order."""
    depth = max((len(run.mails) for run in runs), default=0)
    return [[m for run in runs if k < len(run.mails) for m in run.mails[k]] for k in range(depth)]


@dataclass
class ReplayReport:
    """How a replay of dead mail went."""

    delivered: int = 0
    already_sent: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return (
            f"replayed dead mail: {self.delivered} delivered, "
            f"{self.already_sent} already sent, {self.failed} failed again"
        )


async def replay(dead: list[DeadMail], sent: ReplayLog, transport: Transport) -> ReplayReport:
    """Send each dead mail not sent since; a mail that fails again stays dead (and on the
    topic, for the next replay)."""
    report = ReplayReport()
    for item in dead:
        mail = item.to_mail()
        if not await sent.claim_replay(mail):
            report.already_sent += 1
            continue
        try:
            await transport.send(mail.message, mail.recipient, Fence(_one(sent), mail, _doubt))
        except (MailRejected, MailDeferred, ClaimLost) as exc:
            await sent.mark([mail.key], SentStatus.DEAD, str(exc))
            report.failed += 1
            log.error("replay of %s to %s failed: %s", mail.message_id, mail.recipient, exc)
            continue
        await sent.mark([mail.key], SentStatus.SENT)
        report.delivered += 1
    return report


def _one(sent: ReplayLog) -> Callable[[str], Awaitable[bool]]:
    async def begin_data(key: str) -> bool:
        return key in await sent.begin_data([key])

    return begin_data


async def _doubt(mail: Mail) -> None:
    log.warning("in-doubt resend of %s to %s (same Message-ID)", mail.message_id, mail.recipient)
