"""Staff console: `python -m routing.console follow <department>` prints a queue live from Kafka."""

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from typing import TextIO
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from routing.settings import Settings
from shared.enums import Department
from shared.events import WORK_ITEM_EVENTS, AnyWorkItemEvent, WorkItemQueued
from shared.messages import UnknownMessage, decode


def format_line(event: AnyWorkItemEvent) -> str:
    """One line: time (UTC), new/changed, case number, priority, status, assignee, subject."""
    item = event.item
    when = event.occurred_at.strftime("%Y-%m-%d %H:%M:%SZ")
    kind = "new    " if isinstance(event, WorkItemQueued) else "changed"
    assignee = item.assignee.name if item.assignee else "(unassigned)"
    return (
        f"{when}  {kind}  #{item.case_number}  {item.priority:<8}  {item.status:<30}  "
        f"{assignee:<24}  {item.subject}"
    )


class _Announce(ConsumerRebalanceListener):  # type: ignore[misc]
    """Says on stderr when the queue's partitions are assigned, i.e. when following starts."""

    def __init__(self, consumer: AIOKafkaConsumer, topic: str, err: TextIO) -> None:
        self.consumer, self.topic, self.err = consumer, topic, err

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        """Nothing to clean up: the console keeps no state."""

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Resolve the start positions first, so 'following' means nothing later is missed."""
        for partition in assigned:
            await self.consumer.position(partition)
        print(f"following {self.topic} ({len(assigned)} partitions)", file=self.err, flush=True)


async def follow(
    settings: Settings, department: Department, from_beginning: bool, out: TextIO = sys.stdout
) -> None:
    """Print every new or changed item of the department's queue until cancelled."""
    topic = settings.topics.queue(department)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"routing-console-{uuid4().hex[:12]}",  # its own group: every console sees all
        auto_offset_reset="earliest" if from_beginning else "latest",
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    consumer.subscribe([topic], listener=_Announce(consumer, topic, sys.stderr))
    await consumer.start()
    try:
        async for record in consumer:
            with contextlib.suppress(UnknownMessage, ValueError):
                print(
                    format_line(decode(WORK_ITEM_EVENTS, record.value or b"")), file=out, flush=True
                )
    finally:
        await consumer.stop()


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The command line: `follow <department-slug> [--from-beginning]`."""
    parser = argparse.ArgumentParser(prog="python -m routing.console", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    slugs = [d.slug for d in Department]
    follow_cmd = commands.add_parser("follow", help="print a department's queue as it changes")
    follow_cmd.add_argument("department", choices=slugs, help="department slug")
    follow_cmd.add_argument(
        "--from-beginning", action="store_true", help="replay the queue's history first"
    )
    return parser.parse_args(argv)


async def _run(args: argparse.Namespace) -> None:
    task = asyncio.create_task(
        follow(Settings(), Department.from_slug(args.department), args.from_beginning)
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console; Ctrl-C ends it cleanly with exit code 0."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    asyncio.run(_run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
