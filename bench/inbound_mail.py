"""Replies by email against the running system: replies/s into posts, reply -> feed, vs API posts.

Run against `make up` (default ports, seed tokens, the local MAIL_REPLY_KEY):
    uv run python bench/inbound_mail.py --count 200 --concurrency 8 [--out docs/bench/inbound.md]

Submits one case as Zack Morris, then sends `--count` replies to it over SMTP to intake's
inbound listener (each threaded by the Message-ID of a notice, as a mail client would) from
`--concurrency` SMTP connections, and as many API posts (POST /cases/{id}/posts). For each it
measures the time to its 250 or 201 (the post is on Kafka then) and the time until the post
is in the feed (GET /cases/{id}/feed, polled). Prints replies/s and API posts/s, and the p50,
p95 and p99 of both latencies side by side. Loopback only; bounded in count and time.

All replies come from one sender, so start the listener with its per-sender limit raised
(e.g. INTAKE_INBOUND_RATE_BURST=100000); a 451 (rate or a transient failure) is retried
after a short pause, as an MTA would, and counted. API posts answered 429 are retried too.
"""

import argparse
import asyncio
import os
import smtplib
import statistics
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import httpx

from shared.replies import message_id

TOKEN = "local-dev-only-zack-morris-token"
ZACK_EMAIL = "zack.morris@bayside.example"
LOCAL_KEY = "local-mail-reply-key"
POLL_S = 0.02
DEADLINE_S = 120.0


@dataclass
class Urls:
    """Where the running system answers."""

    intake: str = "http://127.0.0.1:8001"
    feed: str = "http://127.0.0.1:8003"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525


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
    """Submit a case, send both kinds of posts, wait for the feed, report."""
    async with httpx.AsyncClient(timeout=30) as http:
        body = {
            "case_type": "Ask a Question",
            "subject": f"Inbound mail bench {uuid.uuid4().hex[:8]}",
            "description": "Replies by email, measured.",
            "module": "Calendar (terms, periods, days)",
        }
        created = await http.post(
            f"{urls.intake}/cases", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        created.raise_for_status()
        case_id = created.json()["case_id"]
        mail, api = Series("mail"), Series("api")
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_feed(http, urls, case_id, [mail, api], stop))
        markers = [uuid.uuid4().hex[:12] for _ in range(count)]
        mails = [(m, reply(uuid.UUID(case_id), m, key)) for m in markers]
        started = time.perf_counter()
        await asyncio.gather(
            *(
                asyncio.to_thread(send_replies, urls, mails[i::concurrency], mail)
                for i in range(concurrency)
            )
        )
        mail.wall = time.perf_counter() - started
        api_markers = [uuid.uuid4().hex[:12] for _ in range(count)]
        started = time.perf_counter()
        await asyncio.gather(
            *(
                api_posts(http, urls, case_id, api_markers[i::concurrency], api)
                for i in range(concurrency)
            )
        )
        api.wall = time.perf_counter() - started
        await _settle(mail, api)
        stop.set()
        await watcher
    return report([mail, api], count, concurrency)


async def _settle(*series: Series) -> None:
    """Until every accepted post is in the feed, or DEADLINE_S passed."""
    deadline = time.perf_counter() + DEADLINE_S
    while time.perf_counter() < deadline:
        if all(len(s.in_feed) >= len(s.accepted) for s in series):
            return
        await asyncio.sleep(0.2)  # the watcher task fills in_feed; this only looks


def main() -> None:
    """Parse arguments, run, print (and write) the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--smtp-port", type=int, default=int(os.environ.get("INBOUND_SMTP_PORT", 2525))
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    key = os.environ.get("MAIL_REPLY_KEY", LOCAL_KEY)
    text = asyncio.run(run(Urls(smtp_port=args.smtp_port), args.count, args.concurrency, key))
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
