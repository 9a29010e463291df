"""Portal benchmark: server time of the case list and case page beside the feed call each wraps."""

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import uuid4

import httpx
from feed_load import case_events, percentiles, submission_names
from portal.app import create_app
from portal.handlers import Directory
from portal.models import Person
from portal.service import Api, CookieCodec, Oidc, Portal
from portal.settings import Settings

from feed.app import ensure_indexes, read_model
from feed.rebuild import Fold
from feed.settings import Settings as FeedSettings
from shared.enums import ContactType
from shared.events import Account, AccountUpserted, Contact, ContactUpserted
from shared.identity import IdentityKeys
from shared.mongo import mongo_client

KEY = "portal-bench-identity-key-" + "k" * 16
CONTACT = "c-bench"


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


async def load(db: str, cases: int, posts: int, districts: int) -> None:
    """Fold `cases` cases with `posts` posts each into the feed's read model, and its directory."""
    client = mongo_client(feed_settings(db), timeout_ms=600_000)
    model = read_model(feed_settings(db), client)
    await ensure_indexes(model)
    fold = Fold(model.cases, model.feed, model.districts, max_cached=2_000)
    began = time.perf_counter()
    for chunk in range(0, cases, 500):
        events = [
            e.model_copy(update={"account_id": district_of(i, districts)})
            if e.type == "case.submitted"
            else e
            for i in range(chunk, min(chunk + 500, cases))
            for e in case_events(i, posts)
        ]
        await fold.batch(events, submission_names(events))
    await fold.flush()
    for event in directory_events(districts):
        await model.directory.apply(event)
    print(f"loaded {cases} cases, {cases * posts} posts in {time.perf_counter() - began:.0f} s")
    await client.close()


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


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_feed(db: str, port: int) -> subprocess.Popen[bytes]:
    """`python -m feed` on `port` over the bench database, verifying the bench's identity key."""
    env = {
        **os.environ,
        "FEED_PORT": str(port),
        "FEED_MONGO_DATABASE": db,
        "TOPIC_NAMESPACE": "pb" + uuid4().hex[:8],
        "IDENTITY_SIGNING_KEY": KEY,
        "SERVICE_NAME": "feed-portal-bench",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-m", "feed"], env=env)


def bench_portal(feed_url: str, districts: int) -> tuple[Portal, RecordingApi]:
    """The portal with its real API client against the bench's feed; no Kafka, no sign-in."""
    settings = Settings(feed_url=feed_url, identity_signing_key=KEY, read_your_writes_s=0.0)
    http = httpx.AsyncClient(timeout=30)
    directory = Directory()
    for event in directory_events(districts):
        directory.apply(event)
    api = RecordingApi(settings, IdentityKeys(KEY), http)
    cookies = CookieCodec(settings.session_secret.get_secret_value())
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


async def timed_pair(
    n: int, first: Callable[[], Awaitable[None]], second: Callable[[], Awaitable[None]]
) -> tuple[dict[str, float], dict[str, float]]:
    """`n` timings of each, alternating sample by sample so both see the same machine."""
    for _ in range(10):
        await first()
        await second()
    a: list[float] = []
    b: list[float] = []
    for _ in range(n):
        for call, into in ((first, a), (second, b)):
            began = time.perf_counter()
            await call()
            into.append((time.perf_counter() - began) * 1000)
    return percentiles(a), percentiles(b)


async def measure(feed_url: str, districts: int, number: int, n: int) -> dict[str, Any]:
    """Each page through the portal's ASGI app, beside the one feed call it wraps."""
    portal, api = bench_portal(feed_url, districts)
    app = create_app(portal.settings, portal)
    person = portal.person(portal.new_session(CONTACT, "d-0"))
    cookie = portal.cookies.session(portal.new_session(CONTACT, "d-0"))
    out: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.bench") as web:
            web.cookies.set("portal_session", cookie)
            for name, path, wrapped in (
                ("case list (/cases)", "/cases", "/cases"),
                (f"case page (/cases/{number})", f"/cases/{number}", f"/cases/{number}"),
            ):
                api.seen.clear()
                page = await web.get(path)
                assert page.status_code == 200, page.text[:500]
                calls = list(api.seen)
                params = next(p for called, p in calls if called == wrapped)

                async def get_page(path: str = path) -> None:
                    (await web.get(path)).raise_for_status()

                async def get_feed(wrapped: str = wrapped, params: dict[str, str] = params) -> None:
                    await api.feed(person, wrapped, params)

                page_ms, feed_ms = await timed_pair(n, get_page, get_feed)
                out[name] = {
                    "page": page_ms,
                    "feed call": feed_ms,
                    "wrapped": f"GET {wrapped}?{'&'.join(f'{k}={v}' for k, v in params.items())}",
                    "feed calls per page": [c for c, _ in calls],
                }
    return out


async def drop(db: str) -> None:
    """Remove the bench database."""
    client = mongo_client(feed_settings(db), timeout_ms=60_000)
    await client.drop_database(db)
    await client.close()


async def wait_ready(url: str) -> None:
    """Until the feed answers /readyz."""
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        for _ in range(300):
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("feed did not become ready")


def main() -> None:
    """Load, start the feed, measure both pages, print JSON; the database is dropped after."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--posts", type=int, default=10, help="posts per case")
    parser.add_argument("--districts", type=int, default=200)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    db = "portal_bench_" + uuid4().hex[:8]
    asyncio.run(load(db, args.cases, args.posts, args.districts))
    port = free_port()
    feed = start_feed(db, port)
    try:
        url = f"http://127.0.0.1:{port}"
        asyncio.run(wait_ready(url))
        number = 1_000_000 + 5 * args.districts  # a case of d-0, the bench contact's district
        result = asyncio.run(measure(url, args.districts, number, args.samples))
    finally:
        feed.terminate()
        feed.wait(timeout=30)
        asyncio.run(drop(db))
    run = {"cases": args.cases, "posts": args.cases * args.posts, "samples": args.samples}
    print(json.dumps({"run": run, **result}, indent=2))


if __name__ == "__main__":
    main()
