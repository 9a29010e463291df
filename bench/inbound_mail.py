"""Replies by email: replies/s into posts and reply -> feed, beside API posts, in one run.

    uv run --frozen python bench/inbound_mail.py --count 200 --concurrency 8 [--out FILE]

Needs the local stack's Kafka and Mongo-wire server (`make up`); it does not use the stack's
services. It starts its own `python -m intake` (the API, loading the seed directory),
`python -m intake inbound` (the SMTP listener) and `python -m feed`, on free ports, in a
topic namespace and databases of its own, and removes them at the end.

Submits one case as Zack Morris, then sends `--count` replies to it over SMTP to the bench's
listener (each threaded by the Message-ID of a notice, as a mail client would) from
`--concurrency` SMTP connections; then as many API posts (POST /cases/{id}/posts) from as
many clients. For each it measures the time to its 250 or 201 (the post is on Kafka then)
and the time until the post is in the feed (GET /cases/{id}/feed, polled every 20 ms).
Prints replies/s and API posts/s, and the p50, p95 and p99 of both latencies side by side.

All replies come from one sender, so the bench's listener runs with the per-sender limit
raised (the stack's listener allows a sender 10 a minute, after a burst of 20: 200 replies
from one sender would take 18 minutes there). A 451 is still retried after 0.5 s, as an
MTA would, and counted; API posts answered 429 are retried too. Progress is printed as it
goes (unbuffered), and every wait is bounded.
"""

import argparse
import asyncio
import contextlib
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

import devstack
from devstack.cleanup import forget_namespace
from shared.replies import message_id

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "deploy" / "seed" / "directory.json"
TOKEN = "local-dev-only-zack-morris-token"
ZACK_EMAIL = "zack.morris@bayside.example"
KEY = "inbound-bench-mail-reply-key"
POLL_S = 0.02
DEADLINE_S = 120.0
READY_S = 180.0


def say(text: str) -> None:
    """Progress on stderr, at once (not held in a buffer until the end)."""
    print(text, file=sys.stderr, flush=True)


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Urls:
    """Where the bench's own processes answer."""

    intake: str
    feed: str
    smtp_host: str
    smtp_port: int
    mongo_url: str
    intake_db: str


@dataclass
class Processes:
    """The bench's intake, inbound listener and feed, on free ports in one namespace."""

    stack: devstack.StackSettings
    logs: Path
    namespace: str = field(default_factory=lambda: "ib" + uuid.uuid4().hex[:8])
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    urls: Urls | None = None

    @property
    def databases(self) -> tuple[str, str]:
        """Intake's database (the listener shares it) and the feed's."""
        return f"intake_{self.namespace}", f"feed_{self.namespace}"

    def start(self) -> Urls:
        """Spawn the three processes and wait until each is ready."""
        intake_db, feed_db = self.databases
        ports = {"intake": free_port(), "inbound": free_port(), "feed": free_port()}
        smtp_port = free_port()
        common = {
            **os.environ,
            "ENVIRONMENT": "local",
            "KAFKA_BOOTSTRAP_SERVERS": self.stack.kafka_bootstrap,
            "MONGO_URL": self.stack.mongo_url,
            "TOPIC_NAMESPACE": self.namespace,
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "text",
            "SMTP_HOST": self.stack.smtp_host,
            "SMTP_PORT": str(self.stack.smtp_port),
        }
        intake = {
            **common,
            "INTAKE_MONGO_DATABASE": intake_db,
            "INTAKE_RATE_PER_SECOND": "1000000",
            "INTAKE_RATE_BURST": "1000000",
        }
        envs = {
            "intake": {
                **intake,
                "INTAKE_PORT": str(ports["intake"]),
                "INTAKE_SEED_FILE": str(SEED),
            },
            "inbound": {
                **intake,
                "INTAKE_SEED_FILE": "",
                "INTAKE_INBOUND_PORT": str(ports["inbound"]),
                "INBOUND_SMTP_HOST": "127.0.0.1",
                "INBOUND_SMTP_PORT": str(smtp_port),
                "MAIL_REPLY_KEY": KEY,
                "INTAKE_INBOUND_RATE_PER_MINUTE": "1000000",
                "INTAKE_INBOUND_RATE_BURST": "1000000",
            },
            "feed": {**common, "FEED_MONGO_DATABASE": feed_db, "FEED_PORT": str(ports["feed"])},
        }
        argv = {"intake": ["intake"], "inbound": ["intake", "inbound"], "feed": ["feed"]}
        for name, env in envs.items():
            log = (self.logs / f"{name}.log").open("ab")
            self.running[name] = subprocess.Popen(
                [sys.executable, "-m", *argv[name]], env=env, stdout=log, stderr=log, cwd=ROOT
            )
        for name, port in ports.items():
            self._wait_ready(name, f"http://127.0.0.1:{port}/readyz")
        self.urls = Urls(
            intake=f"http://127.0.0.1:{ports['intake']}",
            feed=f"http://127.0.0.1:{ports['feed']}",
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            mongo_url=self.stack.mongo_url,
            intake_db=intake_db,
        )
        return self.urls

    def _wait_ready(self, name: str, url: str) -> None:
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if self.running[name].poll() is not None:
                raise SystemExit(f"{name} exited; see {self.logs / (name + '.log')}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=2).status_code == 200:
                    say(f"{name} ready")
                    return
            time.sleep(0.3)
        raise SystemExit(f"{name} not ready within {READY_S:.0f} s; see {self.logs}")

    def stop(self) -> None:
        """SIGTERM each, SIGKILL after 15 s; then delete the namespace's topics and databases."""
        for process in self.running.values():
            process.terminate()
        for process in self.running.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for database in self.databases:
            asyncio.run(
                forget_namespace(
                    self.stack.kafka_bootstrap, self.stack.mongo_url, self.namespace, database
                )
            )


@contextlib.contextmanager
def processes(stack: devstack.StackSettings) -> Iterator[Urls]:
    """The bench's own services for the length of the block."""
    with tempfile.TemporaryDirectory(prefix="inbound-bench-") as logs:
        started = Processes(stack, Path(logs))
        try:
            yield started.start()
        finally:
            started.stop()


@dataclass
class Series:
    """One way of posting: when each post was accepted and when the feed showed it."""

    name: str
    accepted: dict[str, float] = field(default_factory=dict)  # marker -> seconds to 250/201
    sent_at: dict[str, float] = field(default_factory=dict)
    in_feed: dict[str, float] = field(default_factory=dict)  # marker -> seconds to the feed
    wall: float = 0.0
    retries: int = 0


def reply(case_id: uuid.UUID, marker: str, key: str) -> EmailMessage:
    """A reply from Zack to a notice of the case, carrying `marker` as its text."""
    mail = EmailMessage()
    mail["From"] = f"Zack Morris <{ZACK_EMAIL}>"
    mail["To"] = "support@support-portal.local"
    mail["Subject"] = "Re: your case"
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@bench.bayside.example>"
    mail["In-Reply-To"] = message_id(key, case_id, uuid.uuid4(), "support-portal.local")
    mail.set_content(f"Bench reply {marker}\n\nOn Tue, Campus Support wrote:\n> earlier\n")
    return mail


def send_replies(urls: Urls, mails: list[tuple[str, EmailMessage]], series: Series) -> None:
    """Send mails over one SMTP connection, timing each to its 250."""
    with smtplib.SMTP(urls.smtp_host, urls.smtp_port, timeout=60) as smtp:
        for marker, mail in mails:
            started = time.perf_counter()
            series.sent_at[marker] = started
            while True:
                try:
                    smtp.send_message(mail, from_addr=ZACK_EMAIL, to_addrs=[str(mail["To"])])
                    break
                except smtplib.SMTPDataError as exc:
                    if exc.smtp_code != 451:
                        raise
                    series.retries += 1
                    time.sleep(0.5)
            series.accepted[marker] = time.perf_counter() - started


async def api_posts(
    http: httpx.AsyncClient, urls: Urls, case_id: str, markers: list[str], series: Series
) -> None:
    """Post through the API, timing each to its 201."""
    for marker in markers:
        started = time.perf_counter()
        series.sent_at[marker] = started
        while True:
            answer = await http.post(
                f"{urls.intake}/cases/{case_id}/posts",
                data={"body": f"Bench post {marker}"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            if answer.status_code != 429:
                break
            series.retries += 1
            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
        answer.raise_for_status()
        series.accepted[marker] = time.perf_counter() - started


async def watch_feed(
    http: httpx.AsyncClient, urls: Urls, case_id: str, series: list[Series], stop: asyncio.Event
) -> None:
    """Poll the case's feed, noting when each marker first shows."""
    wanted = {s.name: s for s in series}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    while not stop.is_set():
        answer = await http.get(
            f"{urls.feed}/cases/{case_id}/feed",
            params={"page_size": 100, "sort": "newest"},
            headers=headers,
        )
        now = time.perf_counter()
        if answer.status_code == 200:
            for item in answer.json()["items"]:
                text = item.get("body_text") or ""
                for prefix, name in (("Bench reply ", "mail"), ("Bench post ", "api")):
                    marker = text.removeprefix(prefix) if text.startswith(prefix) else None
                    found = wanted[name]
                    if marker in found.sent_at and marker not in found.in_feed:
                        found.in_feed[marker] = now - found.sent_at[marker]
        await asyncio.sleep(POLL_S)


def percentiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 in milliseconds."""
    if len(values) < 2:
        only = values[0] * 1000 if values else float("nan")
        return only, only, only
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000


def report(series: list[Series], count: int, concurrency: int) -> str:
    """Markdown: throughput and the latencies of both ways side by side."""
    lines = [
        f"{count} replies by SMTP ({concurrency} connections) and {count} API posts "
        f"({concurrency} clients) on one case.",
        "",
        "| way | posts/s | accepted p50 / p95 / p99 (ms) | in feed p50 / p95 / p99 (ms) | "
        "not in feed | retried |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in series:
        rate = len(s.accepted) / s.wall if s.wall else 0.0
        accepted = "{:.1f} / {:.1f} / {:.1f}".format(*percentiles(list(s.accepted.values())))
        in_feed = "{:.1f} / {:.1f} / {:.1f}".format(*percentiles(list(s.in_feed.values())))
        missing = len(s.accepted) - len(s.in_feed)
        label = "email reply" if s.name == "mail" else "API post"
        lines.append(f"| {label} | {rate:.1f} | {accepted} | {in_feed} | {missing} | {s.retries} |")
    return "\n".join(lines)


async def run(urls: Urls, count: int, concurrency: int, key: str) -> str:
    """Submit a case, send the replies, then the API posts, each phase waiting for the feed."""
    async with httpx.AsyncClient(timeout=30) as http:
        case_id = await submit(http, urls)
        mail, api = Series("mail"), Series("api")
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_feed(http, urls, case_id, [mail, api], stop))
        markers = [uuid.uuid4().hex[:12] for _ in range(count)]
        mails = [(m, reply(uuid.UUID(case_id), m, key)) for m in markers]
        say(f"sending {count} replies over {concurrency} SMTP connections")
        started = time.perf_counter()
        await asyncio.gather(
            *(
                asyncio.to_thread(send_replies, urls, mails[i::concurrency], mail)
                for i in range(concurrency)
            )
        )
        mail.wall = time.perf_counter() - started
        say(f"replies accepted in {mail.wall:.1f} s ({mail.retries} retried); waiting for the feed")
        await _settle(mail)
        say(f"posting {count} through the API from {concurrency} clients")
        api_markers = [uuid.uuid4().hex[:12] for _ in range(count)]
        started = time.perf_counter()
        await asyncio.gather(
            *(
                api_posts(http, urls, case_id, api_markers[i::concurrency], api)
                for i in range(concurrency)
            )
        )
        api.wall = time.perf_counter() - started
        say(f"API posts accepted in {api.wall:.1f} s; waiting for the feed")
        await _settle(api)
        stop.set()
        await watcher
    return report([mail, api], count, concurrency)


async def submit(http: httpx.AsyncClient, urls: Urls) -> str:
    """Zack's case, once intake has stored it and the feed shows it (not counted)."""
    body = {
        "case_type": "Ask a Question",
        "subject": f"Inbound mail bench {uuid.uuid4().hex[:8]}",
        "description": "Replies by email, measured.",
        "module": "Calendar (terms, periods, days)",
    }
    headers = {"Authorization": f"Bearer {TOKEN}"}
    created = await http.post(f"{urls.intake}/cases", json=body, headers=headers)
    created.raise_for_status()
    case_id = str(created.json()["case_id"])
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(urls.mongo_url)
    try:
        deadline = time.perf_counter() + DEADLINE_S
        while time.perf_counter() < deadline:
            # The listener, another process, reads the case from intake's database.
            stored = await mongo[urls.intake_db]["cases"].find_one({"_id": case_id})
            shown = await http.get(f"{urls.feed}/cases/{case_id}/feed", headers=headers)
            if stored is not None and shown.status_code == 200:
                return case_id
            await asyncio.sleep(0.2)
    finally:
        await mongo.close()
    raise SystemExit(f"case {case_id} never reached intake's store and the feed")


async def _settle(series: Series) -> None:
    """Until every accepted post is in the feed, or DEADLINE_S passed."""
    deadline = time.perf_counter() + DEADLINE_S
    while time.perf_counter() < deadline:
        if len(series.in_feed) >= len(series.accepted):
            return
        await asyncio.sleep(0.2)  # the watcher task fills in_feed; this only looks
    say(f"{len(series.accepted) - len(series.in_feed)} {series.name} posts not in the feed")


def main() -> None:
    """Parse arguments, start the bench's services, run, print (and write) the report."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with processes(devstack.settings()) as urls:
        text = asyncio.run(run(urls, args.count, args.concurrency, KEY))
    print(text, flush=True)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
