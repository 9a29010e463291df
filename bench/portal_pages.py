"""Portal benchmark: server time of the case list and case page beside the feed call each wraps.

Seeds a feed database of its own on the local Mongo-wire server (the rebuild's bulk fold,
insert_many, indexes built after the load), starts its own `python -m feed` and
`python -m portal` on free ports (a topic namespace of their own, the directory published
there), and times each page through the portal process alternating, sample by sample, with
the one feed call it wraps. Server times are the access-log `duration_ms` of each process for
the bench's own request ids; the portal's idle memory is its VmRSS before and after the run.

    uv run --frozen python bench/portal_pages.py                  # 100k cases, 1M posts
    uv run --frozen python bench/portal_pages.py --keep           # keep the database ...
    uv run --frozen python bench/portal_pages.py --db portal_bench_1a2b3c4d   # ... and reuse it
"""

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from aiokafka import AIOKafkaProducer
from feed_load import case_events, percentiles, submission_names
from memory import rss_mb
from portal.app import create_app
from portal.handlers import Directory
from portal.models import Person
from portal.service import Api, CookieCodec, Oidc, Portal
from portal.settings import Settings

from feed.app import ensure_indexes, read_model
from feed.rebuild import Fold
from feed.settings import Settings as FeedSettings
from shared.directory import directory_key
from shared.enums import ActorKind, ContactType
from shared.events import Account, AccountUpserted, Contact, ContactUpserted
from shared.identity import IdentityKeys
from shared.kafka import TopicSpec, ensure_topics
from shared.mongo import mongo_client
from shared.topics import Topics

KEY = "portal-bench-identity-key-" + "k" * 16
SESSION_SECRET = "portal-bench-session-secret-" + "s" * 16
CONTACT = "c-bench"
CHUNK = 1_000  # cases folded per batch


class RecordingApi(Api):
    """The portal's API client, noting each feed call a page makes (path and parameters)."""

    def __init__(self, settings: Settings, keys: IdentityKeys, http: httpx.AsyncClient) -> None:
        super().__init__(settings, keys, http)
        self.seen: list[tuple[str, dict[str, str]]] = []

    async def feed(self, person: Person, path: str, params: Mapping[str, str] | None = None) -> Any:
        self.seen.append((path, dict(params or {})))
        return await super().feed(person, path, params)


def feed_settings(db: str) -> FeedSettings:
    """The feed's settings on the local stack, in the bench's own database."""
    return FeedSettings(mongo_database=db, topic_namespace="", log_format="text")


def district_of(i: int, districts: int) -> str:
    """Case `i`'s district."""
    return f"d-{i % districts}"


async def load(db: str, cases: int, posts: int, districts: int) -> dict[str, float]:
    """Fold `cases` cases with `posts` posts each into the bench database in bulk (the
    rebuild's Fold: cases and feeds folded in memory, written with insert_many while the next
    chunk folds), then build the indexes and subject postings, then the directory."""
    client = mongo_client(feed_settings(db), timeout_ms=600_000)
    model = read_model(feed_settings(db), client)
    fold = Fold(model.cases, model.feed, model.districts, max_cached=4_000)
    began = time.perf_counter()
    for chunk in range(0, cases, CHUNK):
        events = [
            e.model_copy(update={"account_id": district_of(i, districts)})
            if e.type == "case.submitted"
            else e
            for i in range(chunk, min(chunk + CHUNK, cases))
            for e in case_events(i, posts)
        ]
        await fold.batch(events, submission_names(events))
        if chunk and chunk % 10_000 == 0:
            print(f"  {chunk} cases folded, {time.perf_counter() - began:.0f} s", flush=True)
    await fold.flush()
    loaded = time.perf_counter() - began
    print(f"loaded {cases} cases, {cases * posts} posts in {loaded:.0f} s", flush=True)
    began = time.perf_counter()
    await ensure_indexes(model)
    indexed = time.perf_counter() - began
    print(f"indexes and subject postings in {indexed:.0f} s", flush=True)
    for event in directory_events(districts):
        await model.directory.apply(event)
    await client.close()
    return {"load_s": round(loaded, 1), "index_s": round(indexed, 1)}


def directory_events(districts: int) -> list[AccountUpserted | ContactUpserted]:
    """The districts and the one contact (of d-0) who looks at the pages."""
    accounts: list[AccountUpserted | ContactUpserted] = [
        AccountUpserted(account=Account(id=f"d-{d}", name=f"District {d}"))
        for d in range(districts)
    ]
    contact = Contact(
        id=CONTACT,
        first_name="Bench",
        last_name="Contact",
        email="bench@example.org",
        contact_type=ContactType.AUTHORIZED_SUPPORT,
        account_ids=["d-0"],
    )
    return [*accounts, ContactUpserted(contact=contact)]


async def publish_directory(bootstrap: str, topics: Topics, districts: int) -> None:
    """The directory on the namespace's compacted topic, which the portal reads at start."""
    await ensure_topics(bootstrap, [TopicSpec(topics.directory, partitions=1, compacted=True)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in directory_events(districts):
            value = event.model_dump_json().encode()
            await producer.send(topics.directory, value, key=directory_key(event).encode())
        await producer.flush()
    finally:
        await producer.stop()


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(module: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`python -m <module>` with the bench's environment, its JSON log lines into `log`."""
    full = {**os.environ, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO", **env}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", module], env=full, stderr=out, stdout=out)


def bench_portal(feed_url: str, districts: int) -> tuple[Portal, RecordingApi]:
    """An in-process portal over the bench's feed, to see which feed calls a page makes."""
    settings = Settings(feed_url=feed_url, identity_signing_key=KEY, read_your_writes_s=0.0)
    http = httpx.AsyncClient(timeout=30)
    directory = Directory()
    for event in directory_events(districts):
        directory.apply(event)
    api = RecordingApi(settings, IdentityKeys(KEY), http)
    cookies = CookieCodec(SESSION_SECRET)
    portal = Portal(settings, directory, Oidc(settings, http), api, cookies, NoLinks(), NoMail())
    return portal, api


class NoLinks:
    """Sign-in links are not part of this benchmark."""

    async def use(self, link_id: str, expires_at: datetime) -> bool:
        return False


class NoMail:
    """Nor is mail."""

    async def send(self, to: str, subject: str, text: str) -> None:
        return None


async def wrapped_calls(feed_url: str, districts: int, pages: list[str]) -> dict[str, Any]:
    """For each page, the feed calls it makes (through the in-process app, once)."""
    portal, api = bench_portal(feed_url, districts)
    app = create_app(portal.settings, portal)
    cookie = portal.cookies.session(portal.new_session(CONTACT, "d-0"))
    calls: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.bench") as web:
            web.cookies.set("portal_session", cookie)
            for path in pages:
                api.seen.clear()
                page = await web.get(path)
                assert page.status_code == 200, page.text[:500]
                calls[path] = list(api.seen)
    await api.http.aclose()
    return calls


async def timed_pair(
    n: int, first: Callable[[str], Awaitable[None]], second: Callable[[str], Awaitable[None]]
) -> tuple[dict[str, float], dict[str, float]]:
    """`n` timings of each (as the client sees them), alternating sample by sample so both see
    the same machine; each call is given its request id (`<i>`)."""
    for i in range(10):
        await first(f"warm-{i}")
        await second(f"warm-{i}")
    a: list[float] = []
    b: list[float] = []
    for i in range(n):
        for call, into in ((first, a), (second, b)):
            began = time.perf_counter()
            await call(str(i))
            into.append((time.perf_counter() - began) * 1000)
    return percentiles(a), percentiles(b)


def server_times(log: Path, prefix: str) -> dict[str, float]:
    """p50/p99 of the access-log durations of the requests whose id starts with `prefix`."""
    durations = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if '"duration_ms"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        rid = str(entry.get("request_id") or "")
        if rid.startswith(prefix) and "warm" not in rid and entry.get("logger") == "shared.access":
            durations.append(float(entry["duration_ms"]))
    return percentiles(durations) if durations else {}


async def measure(
    portal_url: str, feed_url: str, logs: tuple[Path, Path], districts: int, number: int, n: int
) -> dict[str, Any]:
    """Each page through the portal process, beside the one feed call it wraps (direct)."""
    portal_log, feed_log = logs
    pages = {"case list": "/cases", "case page": f"/cases/{number}"}
    calls = await wrapped_calls(feed_url, districts, list(pages.values()))
    codec = CookieCodec(SESSION_SECRET)
    portal, _ = bench_portal(feed_url, districts)
    session = portal.new_session(CONTACT, "d-0")
    keys = IdentityKeys(KEY)
    out: dict[str, Any] = {}
    async with (
        httpx.AsyncClient(base_url=portal_url, timeout=60) as web,
        httpx.AsyncClient(base_url=feed_url, timeout=60) as feed,
    ):
        web.cookies.set("portal_session", codec.session(session))
        for name, path in pages.items():
            wrapped = path  # the page at /cases[/n] wraps the feed's route of the same path
            params = next(p for called, p in calls[path] if called == wrapped)
            tag = name.replace(" ", "-")

            async def get_page(rid: str, path: str = path, tag: str = tag) -> None:
                headers = {"X-Request-ID": f"pb-page-{tag}-{rid}"}
                (await web.get(path, headers=headers)).raise_for_status()

            async def get_feed(
                rid: str, wrapped: str = wrapped, params: dict[str, str] = params, tag: str = tag
            ) -> None:
                token = keys.issue(ActorKind.CONTACT, CONTACT)
                headers = {
                    "Authorization": f"Bearer {token}",
                    "X-Request-ID": f"pb-feed-{tag}-{rid}",
                }
                (await feed.get(wrapped, params=params, headers=headers)).raise_for_status()

            page_ms, feed_ms = await timed_pair(n, get_page, get_feed)
            await asyncio.sleep(1.0)  # the access lines are written
            out[name] = {
                "path": path,
                "page (client)": page_ms,
                "feed call (client)": feed_ms,
                "page (server)": server_times(portal_log, f"pb-page-{tag}-"),
                "feed call (server)": server_times(feed_log, f"pb-feed-{tag}-"),
                "wrapped": f"GET {wrapped}?{'&'.join(f'{k}={v}' for k, v in params.items())}",
                "feed calls per page": [c for c, _ in calls[path]],
            }
    return out


async def drop(*dbs: str) -> None:
    """Remove the bench databases."""
    client = mongo_client(feed_settings(dbs[0]), timeout_ms=120_000)
    for db in dbs:
        await client.drop_database(db)
    await client.close()


async def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 300) -> None:
    """Until the service answers /readyz."""
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url} exited with {process.returncode}")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError(f"{url} did not become ready")


def idle_rss(pid: int, samples: int = 5) -> float:
    """Median VmRSS (MiB) of an idle process, one sample a second."""
    readings = []
    for _ in range(samples):
        readings.append(rss_mb(pid))
        time.sleep(1.0)
    return round(sorted(readings)[len(readings) // 2], 1)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM and wait."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> None:
    """Load, start feed and portal, measure both pages, print JSON; the databases are dropped
    after unless --keep."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--posts", type=int, default=10, help="posts per case")
    parser.add_argument("--districts", type=int, default=200)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--db", help="an already loaded bench database (same sizes)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    db = args.db or "portal_bench_" + uuid4().hex[:8]
    seeding = {} if args.db else asyncio.run(load(db, args.cases, args.posts, args.districts))
    namespace = "pb" + uuid4().hex[:8]
    bootstrap = FeedSettings().kafka_bootstrap_servers
    asyncio.run(publish_directory(bootstrap, Topics(namespace), args.districts))
    logs = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    feed_port, portal_port = free_port(), free_port()
    common = {"TOPIC_NAMESPACE": namespace, "IDENTITY_SIGNING_KEY": KEY}
    feed = start(
        "feed",
        {**common, "FEED_PORT": str(feed_port), "FEED_MONGO_DATABASE": db,
         "SERVICE_NAME": "feed-portal-bench"},
        logs / "feed.log",
    )  # fmt: skip
    feed_url, portal_url = f"http://127.0.0.1:{feed_port}", f"http://127.0.0.1:{portal_port}"
    portal = None
    try:
        asyncio.run(wait_ready(feed_url, feed))
        portal = start(
            "portal",
            {**common, "PORTAL_PORT": str(portal_port), "PORTAL_FEED_URL": feed_url,
             "PORTAL_SESSION_SECRET": SESSION_SECRET, "PORTAL_MONGO_DATABASE": db + "_portal",
             "SERVICE_NAME": "portal-bench"},
            logs / "portal.log",
        )  # fmt: skip
        asyncio.run(wait_ready(portal_url, portal))
        time.sleep(5.0)
        rss_before = idle_rss(portal.pid)
        number = 1_000_000 + 5 * args.districts  # a case of d-0, the bench contact's district
        result = asyncio.run(
            measure(
                portal_url,
                feed_url,
                (logs / "portal.log", logs / "feed.log"),
                args.districts,
                number,
                args.samples,
            )
        )
        time.sleep(5.0)
        rss_after = idle_rss(portal.pid)
    finally:
        if portal is not None:
            stop(portal)
        stop(feed)
        if not args.keep:
            asyncio.run(drop(db, db + "_portal"))
    run = {
        "cases": args.cases,
        "posts": args.cases * args.posts,
        "districts": args.districts,
        "samples": args.samples,
        "db": db if args.keep else None,
        "logs": str(logs),
        **seeding,
    }
    memory = {"portal idle RSS MiB before": rss_before, "after the run": rss_after}
    print(json.dumps({"run": run, "memory": memory, **result}, indent=2))


if __name__ == "__main__":
    main()
