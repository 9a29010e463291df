"""Subscribers of notify: take what Kafka delivers and hand it to the service (service.py)."""

from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from notify.service import Notifier
from shared.directory import DirectoryStore, subscribe_directory
from shared.events import AnyNoticeEvent
from shared.kafka import Record, consumer_options
from shared.settings import InfraSettings


def register(
    broker: KafkaBroker,
    settings: InfraSettings,
    group: str,
    notifier: Notifier,
    directory: DirectoryStore,
    max_records: int = 200,
) -> None:
    """Subscribe notify's handlers; each commits only after its mail is recorded."""
    topics = settings.topics

    async def on_case_events(_: list[Any], message: KafkaMessage) -> None:
        await notifier.on_case_batch(records_of(message))

    async def on_notice_event(event: AnyNoticeEvent) -> None:
        await notifier.on_notice(event)

    # called, not used as decorators: the call is typed, the decorator form is not to mypy
    options = consumer_options(group)
    broker.subscriber(topics.case_events, batch=True, max_records=max_records, **options)(
        on_case_events
    )
    broker.subscriber(topics.incident_events, **options)(on_notice_event)
    subscribe_directory(broker, topics.directory, f"{group}.directory", lambda: directory)


def records_of(message: KafkaMessage) -> list[Record]:
    """The records of a polled batch (a single record when the broker gives one)."""
    raw = message.raw_message
    return list(raw) if isinstance(raw, tuple | list) else [raw]
