"""What the portal reads from Kafka: the directory topic from its start, case events from now on."""

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from shared.events import (
    DIRECTORY_EVENTS,
    Account,
    AccountUpserted,
    AnyDirectoryEvent,
    Contact,
    ContactUpserted,
)

log = logging.getLogger("portal.directory")


class Directory:
    """Accounts and contacts by id, contacts by email; what sign-in and the header need.

    The portal owns no directory data: this is a view of the topic, rebuilt at every start
    (the topic is compacted, so reading it whole is reading one record per person).
    """

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.contacts: dict[str, Contact] = {}
        self._by_email: dict[str, str] = {}

    def apply(self, event: AnyDirectoryEvent) -> None:
        """Keep the latest record of each account and contact."""
        match event:
            case AccountUpserted():
                self.accounts[event.account.id] = event.account
            case ContactUpserted():
                self._put(event.contact)

    def _put(self, contact: Contact) -> None:
        old = self.contacts.get(contact.id)
        if old is not None:
            self._by_email.pop(str(old.email).lower(), None)
        self.contacts[contact.id] = contact
        self._by_email[str(contact.email).lower()] = contact.id

    def by_email(self, email: str) -> Contact | None:
        """The active contact with this email (case-insensitive), if any."""
        contact = self.contacts.get(self._by_email.get(email.strip().lower(), ""))
        return contact if contact is not None and contact.active else None

    def active(self, contact_id: str) -> Contact | None:
        """The contact if it is still active."""
        contact = self.contacts.get(contact_id)
        return contact if contact is not None and contact.active else None


class DirectoryReader:
    """Reads the directory topic into a Directory: to its end before `ready`, then live."""

    def __init__(self, bootstrap: str, topic: str, directory: Directory) -> None:
        self.bootstrap, self.topic, self.directory = bootstrap, topic, directory
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, wait_s: float) -> None:
        """Start reading and wait (at most `wait_s`) until what was on the topic is applied."""
        self._task = asyncio.create_task(self._run())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.ready.wait()), wait_s)
        if not self.ready.is_set():
            log.warning("directory not read to its end within %.0f s; sign-in waits", wait_s)

    async def stop(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:  # Kafka away: read again from the start once it is back
                log.exception("directory reader failed; retrying")
                await asyncio.sleep(2.0)

    async def _consume(self) -> None:
        # No consumer group: every start reads the whole compacted topic again.
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = await self._assign(consumer)
            ends = await consumer.end_offsets(partitions)
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=1000)
                for records in batch.values():
                    for record in records:
                        self._apply(record.value)
                if not self.ready.is_set() and await _caught_up(consumer, ends):
                    self.ready.set()
        finally:
            await consumer.stop()

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        partitions = await _assign_all(consumer, self.topic)
        await consumer.seek_to_beginning(*partitions)
        return partitions

    def _apply(self, value: bytes | None) -> None:
        if value is None:
            return
        try:
            self.directory.apply(DIRECTORY_EVENTS.validate_json(value))
        except ValidationError:  # a tolerant reader skips what it does not know
            log.warning("skipped a directory record it cannot read")


async def _caught_up(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    return all([await consumer.position(tp) >= end for tp, end in ends.items()])


async def _assign_all(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Assign every partition of `topic` (waiting a little for its metadata)."""
    ids: set[int] | None = None
    for _ in range(60):
        ids = consumer.partitions_for_topic(topic)
        if ids:
            break
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.5)
    partitions = [TopicPartition(topic, p) for p in sorted(ids or {0})]
    consumer.assign(partitions)
    return partitions


class CaseSignals:
    """Wakes the open live streams of a case when one of its events arrives."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._any: set[asyncio.Event] = set()

    @contextlib.contextmanager
    def watch(self, case_id: str) -> Iterator[asyncio.Event]:
        """An event set each time the case has news, for as long as the block runs."""
        woken = asyncio.Event()
        self._waiting.setdefault(case_id, set()).add(woken)
        try:
            yield woken
        finally:
            watchers = self._waiting.get(case_id, set())
            watchers.discard(woken)
            if not watchers:
                self._waiting.pop(case_id, None)

    @contextlib.contextmanager
    def watch_any(self) -> Iterator[asyncio.Event]:
        """An event set each time any case has news (the staff queues' live streams)."""
        woken = asyncio.Event()
        self._any.add(woken)
        try:
            yield woken
        finally:
            self._any.discard(woken)

    def signal(self, case_id: str) -> None:
        """The case has news: wake its streams (they ask the feed, as their viewer, what)."""
        for woken in self._waiting.get(case_id, ()):
            woken.set()
        for woken in self._any:
            woken.set()


class CaseEventsReader:
    """Follows case.events from its end, without a consumer group (every replica sees every
    event), and signals the case each record is keyed by; nothing is read from the values."""

    def __init__(self, bootstrap: str, topic: str, signals: CaseSignals) -> None:
        self.bootstrap, self.topic, self.signals = bootstrap, topic, signals
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start following; the live streams poll the feed meanwhile, so nothing waits."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:  # Kafka away: streams keep polling; follow again once it is back
                log.exception("case events reader failed; retrying")
                await asyncio.sleep(2.0)

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer.seek_to_end(*await _assign_all(consumer, self.topic))
            while True:
                batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
                for records in batch.values():
                    for record in records:
                        if record.key:
                            self.signals.signal(record.key.decode(errors="replace"))
        finally:
            await consumer.stop()
