"""Subscribers of intake: the directory topic, and case status changes for its case records."""

from collections.abc import Callable

from faststream.kafka import KafkaBroker

from intake.store import CaseStore
from shared.directory import DirectoryStore, subscribe_directory
from shared.events import AnyCaseEvent, StatusChanged
from shared.kafka import consumer_options
from shared.topics import Topics


def register(
    broker: KafkaBroker,
    topics: Topics,
    group: str,
    cases: Callable[[], CaseStore],
    directory: Callable[[], DirectoryStore],
) -> None:
    """Subscribe intake's handlers; called from create_app, never at import."""
    subscribe_directory(broker, topics.directory, group, directory)

    @broker.subscriber(topics.case_events, **consumer_options(group))  # type: ignore[untyped-decorator]
    async def on_status_changed(event: AnyCaseEvent) -> None:
        """Keep the last known status (and closing time) for close/reopen checks; skip others."""
        if isinstance(event, StatusChanged):
            await cases().apply_status(event)
