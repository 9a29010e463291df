"""Subscribers of intake: the directory topic, and case status changes for its case records."""

from faststream.kafka import KafkaBroker

from intake.store import CaseStore, case_document
from shared.directory import DirectoryStore, subscribe_directory
from shared.events import (
    AnyCaseEvent,
    CaseRouted,
    CaseSubmitted,
    RecipientsChanged,
    StatusChanged,
)
from shared.kafka import consumer_options
from shared.settings import ServiceSettings


def register(
    broker: KafkaBroker,
    settings: ServiceSettings,
    cases: CaseStore,
    directory: DirectoryStore,
) -> None:
    """Subscribe intake's handlers; called from create_app, never at import."""
    topics = settings.topics
    subscribe_directory(broker, topics.directory, settings.directory_group_id, lambda: directory)

    @broker.subscriber(topics.case_events, **consumer_options(settings.group_id))  # type: ignore[untyped-decorator]
    async def on_case_event(event: AnyCaseEvent) -> None:
        """Make sure each submitted case is recorded; keep the last known status, recipients
        and department."""
        if isinstance(event, CaseSubmitted):
            await cases.ensure(case_document(event))
        elif isinstance(event, StatusChanged):
            await cases.apply_status(event)
        elif isinstance(event, RecipientsChanged):
            await cases.apply_recipients(event)
        elif isinstance(event, CaseRouted):
            await cases.apply_routed(event)
