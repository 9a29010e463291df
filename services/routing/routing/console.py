"""Staff console: `follow` prints a queue live, `queue` lists it, `post <case> <text>` posts."""

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from routing.logic import describe_activity
from routing.settings import Settings
from shared import tracing
from shared.enums import Department
from shared.events import WORK_ITEM_EVENTS, AnyWorkItemEvent, WorkItemQueued
from shared.messages import UnknownMessage, decode, utcnow

CALL_TIMEOUT_S = 30.0
MAX_LIMIT = 200  # the staff API's page limit


def format_line(event: AnyWorkItemEvent, now: datetime | None = None) -> str:
    """One line: time (UTC), new/changed, case number, priority, status, assignee, subject,
    then the last activity and who made it, and whether the customer replied."""
    item = event.item
    when = event.occurred_at.strftime("%Y-%m-%d %H:%M:%SZ")
    kind = "new    " if isinstance(event, WorkItemQueued) else "changed"
    assignee = item.assignee.name if item.assignee else "(unassigned)"
    line = (
        f"{when}  {kind}  #{item.case_number}  {item.priority:<8}  {item.status:<30}  "
        f"{assignee:<24}  {item.subject}"
    )
    activity = describe_activity(
        item.last_activity, item.last_actor, item.last_activity_at, now or utcnow()
    )
    if activity:
        line += f"  | last: {activity}"
    if item.customer_replied:
        line += "  [customer replied]"
    return line


def queue_line(item: dict[str, Any]) -> str:
    """One line of `queue`: case number, priority, status, assignee, subject, last activity,
    time to the next SLA due point and whether a target was breached."""
    assignee = (item.get("assignee") or {}).get("name") or "(unassigned)"
    line = (
        f"#{item['case_number']}  {item['priority']:<8}  {item['status']:<30}  "
        f"{assignee:<24}  {item['subject']}"
    )
    if item.get("last_activity_summary"):
        line += f"  | last: {item['last_activity_summary']}"
    if item.get("customer_replied"):
        line += "  [customer replied]"
    if item.get("due_in"):
        line += f"  | {item['due_in']}"
    if item.get("breached"):
        line += "  [SLA breached]"
    return line


class CallFailed(Exception):
    """A service refused the call or could not be reached; the message says why."""


def post(settings: Settings, case_ref: str, text: str) -> dict[str, Any]:
    """Post `text` to a case's feed through intake's API with the staff token; intake's answer.

    Intake owns posts (validation, sanitising, attachments); staff post there with their
    staff token, and the contact sees the post on the case feed.
    """
    path = f"/cases/{urllib.parse.quote(case_ref, safe='')}/posts"
    body = urllib.parse.urlencode({"body": text}).encode()
    return dict(_call(settings, "intake", settings.intake_url, path, body))


def queue(settings: Settings, department: Department, limit: int) -> list[dict[str, Any]]:
    """The department's open work items in work order, from routing's staff API."""
    path = f"/queues/{department.slug}?limit={limit}"
    return list(_call(settings, "routing", settings.routing_url, path))


def _call(settings: Settings, name: str, base: str, path: str, form: bytes | None = None) -> Any:
    """GET (or POST `form`) with the staff token; the JSON answer, else CallFailed."""
    if settings.staff_token is None:
        raise CallFailed("no staff token: set ROUTING_STAFF_TOKEN to a staff member's token")
    headers = {
        "Authorization": f"Bearer {settings.staff_token.get_secret_value()}",
        tracing.HEADER: tracing.current() or tracing.new_id(),
    }
    if form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(base.rstrip("/") + path, data=form, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=CALL_TIMEOUT_S) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raise CallFailed(f"{name} answered {exc.code}: {_detail(exc.read())}") from exc
    except (urllib.error.URLError, TimeoutError) as exc:
        raise CallFailed(f"{name} at {base} is unreachable: {exc}") from exc


def _detail(body: bytes) -> str:
    """The problem details' `detail` (or the body's start when it is not problem+json)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    return str(data.get("detail") or data.get("title") or data) if isinstance(data, dict) else ""


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


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to {MAX_LIMIT}, not {text[:20]!r}")
    return int(text)


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
    post_cmd = commands.add_parser(
        "post",
        help="post a written explanation to a case's feed (the contact sees it), through "
        "intake's API with ROUTING_STAFF_TOKEN at ROUTING_INTAKE_URL",
    )
    queue_cmd = commands.add_parser(
        "queue",
        help="list a department's open work items with their last activity, from routing's "
        "API at ROUTING_URL with ROUTING_STAFF_TOKEN",
    )
    queue_cmd.add_argument("department", choices=slugs, help="department slug")
    queue_cmd.add_argument("--limit", type=_limit, default=50, help="items, 1 to 200")
    post_cmd.add_argument("case", help="case number (e.g. 1000003) or case id")
    post_cmd.add_argument("text", help="the post's text")
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
    """Run the console; Ctrl-C ends `follow` cleanly with exit code 0; a refused post exits 1."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command in ("post", "queue"):
        return _once(args)
    asyncio.run(_run(args))
    return 0


def _once(args: argparse.Namespace) -> int:
    """Run `post` or `queue`; a refused call prints the service's reason and exits 1."""
    try:
        if args.command == "post":
            answer = post(Settings(), args.case, args.text)
            print(f"posted {answer.get('post_id')} to case {args.case}")
        else:
            for item in queue(Settings(), Department.from_slug(args.department), args.limit):
                print(queue_line(item))
    except CallFailed as exc:
        print(f"{args.command} refused: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
