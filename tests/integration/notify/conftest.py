"""Real-stack fixtures for notify: a notify process, a publisher, the sink's mailbox API."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from uuid import UUID, uuid4

import httpx
import pytest
from aiosmtpd.controller import Controller
from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from devstack.cleanup import forget_namespace
from notify.logic import Threading
from shared import replies
from shared.enums import ActorKind, ContactType, Department, Module, Priority, Status
from shared.events import (
    Account,
    AccountUpserted,
    CaseSubmitted,
    Contact,
    ContactUpserted,
    RecipientsChanged,
    StaffMember,
    StaffUpserted,
    StatusChanged,
)
from shared.kafka import ensure_topics, make_broker
from shared.messages import Actor, Message
from shared.settings import InfraSettings
from shared.topics import Topics

STAFF = Actor(kind=ActorKind.STAFF, id="s-1", name="Kelly Kapowski")
DOMAIN = "notify-test.invalid"
REPLY_KEY = SecretStr("notify-tests-reply-key")  # MAIL_REPLY_KEY of the notify under test
THREADING = Threading(REPLY_KEY, DOMAIN, DOMAIN)


def receipt_id(case: CaseSubmitted) -> str:
    """The receipt's Message-ID: the signed id of the case.submitted event, the thread root."""
    return replies.message_id(REPLY_KEY, case.case_id, case.event_id, DOMAIN)


def case_mail_id(case_id: UUID, event_id: UUID, person: Contact | StaffMember) -> str:
    """The Message-ID of the mail an event of a case sends `person`."""
    return THREADING.message_id(case_id, event_id, str(person.email))


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def eventually(check: Callable[[], Awaitable[Any]], what: str, limit: float = 90.0) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` otherwise."""
    deadline = time.monotonic() + limit
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.25)


@dataclass
class NotifyProcess:
    """`python -m notify` as a child process with its own namespace, database and port."""

    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, **overrides: str) -> None:
        """Launch; the caller waits for /readyz with `ready()`."""
        env = {**os.environ, **self.env, **overrides, "NOTIFY_PORT": str(self.port)}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "notify"], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    async def ready(self) -> None:
        """Wait until the process answers /readyz (Kafka and Mongo reachable, consuming)."""

        async def answers() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"notify exited with {self.proc.returncode}; see {self.log}")
            try:
                async with httpx.AsyncClient(timeout=2.0) as client:
                    reply = await client.get(f"http://127.0.0.1:{self.port}/readyz")
                return reply.status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(answers, "notify /readyz")

    def metrics(self) -> str:
        """The Prometheus text of the running process."""
        return httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5.0).text

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL if it hangs."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Mailbox:
    """The SMTP sink's JSON API, filtered on this test's unique addresses."""

    url: str

    async def to(self, address: str) -> list[dict[str, Any]]:
        """Index entries of messages addressed to `address`."""
        async with httpx.AsyncClient(timeout=10.0) as client:
            reply = await client.get(f"{self.url}/api/messages", params={"to": address})
            reply.raise_for_status()
            return list(reply.json())

    async def detail(self, entry_id: str) -> dict[str, Any]:
        """Headers, text and html of one message."""
        async with httpx.AsyncClient(timeout=10.0) as client:
            reply = await client.get(f"{self.url}/api/messages/{entry_id}")
            reply.raise_for_status()
            return dict(reply.json())

    async def raw(self, entry_id: str) -> bytes:
        """The message exactly as the sink stored it."""
        async with httpx.AsyncClient(timeout=10.0) as client:
            reply = await client.get(f"{self.url}/api/messages/{entry_id}/raw")
            reply.raise_for_status()
            return reply.content


def header(detail: dict[str, Any], name: str) -> list[str]:
    """Every value of header `name` in a message detail."""
    return [h["value"] for h in detail["headers"] if h["name"].lower() == name.lower()]


@dataclass
class Scenario:
    """One test's namespace, database and unique people, and a way to publish to them."""

    broker: KafkaBroker
    topics: Topics
    database: str
    tag: str = field(default_factory=lambda: uuid4().hex[:8])

    def address(self, who: str) -> str:
        """A mail address no other test (or engineer) uses."""
        return f"{who}-{self.tag}@notify-tests.example.org"

    def contact(self, who: str, **kw: Any) -> Contact:
        """A contact of this scenario's district."""
        return Contact(
            id=f"{who}-{self.tag}",
            first_name=kw.pop("first_name", who.title()),
            last_name="Tester",
            email=self.address(who),
            contact_type=kw.pop("contact_type", ContactType.AUTHORIZED_SUPPORT),
            account_ids=[f"acct-{self.tag}"],
            **kw,
        )

    async def people(self, *who: str) -> list[Contact]:
        """Publish the district and these contacts to the directory topic."""
        account = Account(id=f"acct-{self.tag}", name="Bayside", time_zone="America/Chicago")
        await self.send(self.topics.directory, AccountUpserted(account=account), "account")
        contacts = [self.contact(w) for w in who]
        for c in contacts:
            await self.send(self.topics.directory, ContactUpserted(contact=c), f"contact:{c.id}")
        return contacts

    def staff(self, who: str, name: str, department: Department) -> StaffMember:
        """A staff member of `department` with an address of this scenario."""
        return StaffMember(
            id=f"{who}-{self.tag}", name=name, email=self.address(who), departments=[department]
        )

    async def hire(self, *staff: StaffMember) -> None:
        """Publish these staff members to the directory topic."""
        for member in staff:
            event = StaffUpserted(staff=member)
            await self.send(self.topics.directory, event, f"staff:{member.id}")

    def submitted(self, owner: Contact, number: int, subject: str = "Snow Day") -> CaseSubmitted:
        """A case owned by `owner`."""
        return CaseSubmitted(
            case_id=uuid4(),
            case_number=number,
            account_id=owner.account_ids[0],
            contact_id=owner.id,
            submitted_by=Actor(kind=ActorKind.CONTACT, id=owner.id, name=owner.display_name),
            priority=Priority.MEDIUM,
            subject=subject,
            description="How do I add a snow day?",
            details={"case_type": "Ask a Question", "module": Module.CALENDAR.value},
        )

    def status(self, case_id: UUID, to: Status, frm: Status = Status.ASSIGNED) -> StatusChanged:
        """A staff status change."""
        return StatusChanged(case_id=case_id, from_status=frm, to_status=to, actor=STAFF)

    def recipients(self, case_id: UUID, now: list[Contact], added: list[Contact],
                   removed: list[Contact]) -> RecipientsChanged:  # fmt: skip
        """The full recipient list after a change."""
        return RecipientsChanged(
            case_id=case_id,
            added=[c.id for c in added],
            removed=[c.id for c in removed],
            recipients=[c.id for c in now],
            actor=STAFF,
        )

    async def case(self, *events: Any) -> None:
        """Publish case events keyed by case id (per-case order)."""
        for event in events:
            await self.send(self.topics.case_events, event, str(event.case_id))

    async def send(self, topic: str, event: Message, key: str) -> None:
        """Publish one message with acks=all."""
        await self.broker.publish(event.model_dump(mode="json"), topic=topic, key=key.encode())


@dataclass
class MemorySink:
    """A storing SMTP server of the test's own (aiosmtpd), for outages and refusals; it can
    hold back the reply to the end of data (after storing the mail, for `stall` seconds or
    until `release` is set) and
    answers lookups by Message-ID over HTTP (`receipts_url`)."""

    port: int = field(default_factory=free_port)
    received: list[tuple[str, str]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    stall: float = 0.0
    release: threading.Event = field(default_factory=threading.Event)
    controller: Controller | None = None
    lookup: ThreadingHTTPServer | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = BytesParser(policy=default_policy).parsebytes(envelope.content, headersonly=True)
        for rcpt in envelope.rcpt_tos:
            self.received.append((rcpt, str(parsed["Message-ID"])))
        if self.stall:  # stored; the 250 waits until `release` is set (or `stall` passed)
            await asyncio.to_thread(self.release.wait, self.stall)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        """Listen on `port` (fixed, so a client can be pointed at it before it runs)."""
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def serve_receipts(self) -> str:
        """Answer GET /api/messages?message_id=... with the stored matches (a JSON list);
        returns the lookup URL template notify takes as NOTIFY_RECEIPTS_URL."""
        sink = self

        class Lookup(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                wanted, to = query.get("message_id", [""])[0], query.get("to", [""])[0]
                found = [
                    {"to": r, "message_id": m}
                    for r, m in sink.received
                    if m == wanted and to in ("", r)
                ]
                body = json.dumps(found).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.lookup = ThreadingHTTPServer(("127.0.0.1", 0), Lookup)
        threading.Thread(target=self.lookup.serve_forever, daemon=True).start()
        port = self.lookup.server_address[1]
        return f"http://127.0.0.1:{port}/api/messages?message_id={{message_id}}&to={{recipient}}"

    def stop(self) -> None:
        """Stop listening (a held 250 is let go first, so no session waits out its stall)."""
        self.release.set()
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
        if self.lookup is not None:
            self.lookup.shutdown()
            self.lookup.server_close()
            self.lookup = None

    def ids(self) -> list[str]:
        """Message-IDs received, one per delivery (duplicates show twice)."""
        return [mid for _, mid in self.received]


@pytest.fixture
def memory_sink() -> Iterator[MemorySink]:
    """An own SMTP sink on a free port, not yet started."""
    sink = MemorySink()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def infra(stack: Any) -> InfraSettings:
    """Client settings of the running stack."""
    return InfraSettings(
        kafka_bootstrap_servers=stack.kafka_bootstrap,
        mongo_url=stack.mongo_url,
        smtp_host=stack.smtp_host,
        smtp_port=stack.smtp_port,
    )


@pytest.fixture(scope="session")
def mailbox(stack: Any) -> Mailbox:
    """The shared sink's API."""
    return Mailbox(stack.mailbox_url)


@pytest.fixture(scope="session")
async def publisher(infra: InfraSettings) -> AsyncIterator[KafkaBroker]:
    """A started producer (acks=all, idempotent) for the tests' events."""
    broker = make_broker(infra, client_id="notify-tests")
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture
async def scenario(publisher: KafkaBroker, infra: InfraSettings) -> AsyncIterator[Scenario]:
    """A fresh namespace and database, topics created; both removed afterwards."""
    namespace = "t" + uuid4().hex[:8]
    topics = Topics(namespace)
    await ensure_topics(infra.kafka_bootstrap_servers, topics.all_specs())
    database = f"notify_{namespace}"
    yield Scenario(publisher, topics, database=database)
    mongo_url = infra.mongo_url.get_secret_value()
    await forget_namespace(infra.kafka_bootstrap_servers, mongo_url, namespace, database)


@pytest.fixture
def notify_env(scenario: Scenario, infra: InfraSettings) -> dict[str, str]:
    """Environment of a notify process bound to this scenario (shared sink by default)."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "MONGO_URL": infra.mongo_url.get_secret_value(),
        "SMTP_HOST": infra.smtp_host,
        "SMTP_PORT": str(infra.smtp_port),
        "TOPIC_NAMESPACE": scenario.topics.namespace,
        "NOTIFY_MONGO_DATABASE": scenario.database,
        "NOTIFY_MAIL_DOMAIN": DOMAIN,
        "MAIL_REPLY_KEY": REPLY_KEY.get_secret_value(),
        "LOG_FORMAT": "text",
    }


@pytest.fixture
def spawn(notify_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., NotifyProcess]]:
    """Start notify processes for this test; every one is stopped at the end."""
    started: list[NotifyProcess] = []

    def start(**overrides: str) -> NotifyProcess:
        process = NotifyProcess({**notify_env, **overrides}, tmp_path / "notify.log")
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
