"""Staff post to the contact on the real stack: console → intake → feed, and routing's queue."""

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import uuid4

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

import devstack
from devstack.cleanup import forget_namespace
from feed.app import create_app as create_feed
from feed.settings import Settings as FeedSettings
from intake.app import create_app as create_intake
from intake.settings import REPO_SEED
from intake.settings import Settings as IntakeSettings
from routing.app import create_app as create_routing
from routing.settings import Settings as RoutingSettings
from shared.directory import hash_token

ZACK = "local-dev-only-zack-morris-token"  # Zack Morris (TESTING), Bayside
PAT = "local-dev-only-staff-support-token"  # Pat Support, Campus Support
T = TypeVar("T")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll `probe` until it returns something; fail naming `what` after a minute."""
    deadline = time.monotonic() + 60
    while (found := await probe()) is None:
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)
    return found


@dataclass
class Platform:
    """Intake and routing on real ports, feed in-process, all on one private namespace."""

    intake_url: str
    routing_url: str
    intake: httpx.AsyncClient
    routing: httpx.AsyncClient
    feed: httpx.AsyncClient


async def _seeded(app: FastAPI) -> None:
    """Wait until intake projected the seed's tokens (asked of the store: a miss is cached)."""
    tokens = app.state.intake.directory.tokens
    wanted = sorted({hash_token(ZACK), hash_token(PAT)})

    async def both() -> bool | None:
        return True if await tokens.count_documents({"sha256": {"$in": wanted}}) == 2 else None

    await _eventually(both, "the seed's tokens in intake")


@pytest.fixture(scope="module")
async def platform(stack: devstack.StackSettings) -> AsyncIterator[Platform]:
    """The three services of a staff post, wired through the real Kafka and Mongo."""
    ns = "t" + uuid4().hex[:8]
    infra: dict[str, Any] = {
        "kafka_bootstrap_servers": stack.kafka_bootstrap,
        "mongo_url": stack.mongo_url,
        "topic_namespace": ns,
    }
    dbs = {"intake": f"intake_{ns}", "routing": f"routing_{ns}", "feed": f"feed_{ns}"}
    intake_app = create_intake(
        IntakeSettings(
            **infra,
            mongo_database=dbs["intake"],
            seed_file=str(REPO_SEED),
            rate_per_second=10_000.0,
            rate_burst=10_000,
        )
    )
    routing_app = create_routing(RoutingSettings(**infra, mongo_database=dbs["routing"]))
    feed_app = create_feed(FeedSettings(**infra, mongo_database=dbs["feed"]))
    try:
        async with (
            _served(intake_app, "intake") as intake_url,
            _served(routing_app, "routing") as routing_url,
            feed_app.router.lifespan_context(feed_app),
            httpx.AsyncClient(base_url=intake_url, timeout=30) as intake,
            httpx.AsyncClient(base_url=routing_url, timeout=30) as routing,
            _client(feed_app, "http://feed") as feed,
        ):
            await _seeded(intake_app)
            yield Platform(intake_url, routing_url, intake, routing, feed)
    finally:
        for db in dbs.values():
            await forget_namespace(stack.kafka_bootstrap, stack.mongo_url, ns, db)


@asynccontextmanager
async def _served(app: FastAPI, name: str) -> AsyncIterator[str]:
    """Serve `app` (its lifespan included) on a free loopback port; its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())

    async def started() -> bool | None:
        if serving.done():
            pytest.fail(f"{name} stopped while starting: {serving.exception()!r}")
        return True if server.started else None

    try:
        await _eventually(started, f"{name} serving")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


def _client(app: FastAPI, base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def _submitted_and_routed(platform: Platform) -> int:
    """Zack submits an Ask a Question case; its number once routing has queued it."""
    body = {
        "case_type": "Ask a Question",
        "subject": f"Calendar question {uuid4().hex[:6]}",
        "description": "How do we add a snow day to the calendar?",
        "module": "Calendar (terms, periods, days)",
    }
    answer = await platform.intake.post("/cases", json=body, headers=_auth(ZACK))
    assert answer.status_code == 201, answer.text
    number = int(answer.json()["case_number"])

    async def routed() -> bool | None:
        found = await platform.routing.get(f"/cases/{number}", headers=_auth(PAT))
        return True if found.status_code == 200 else None

    await _eventually(routed, f"routing to know case {number}")
    return number


async def _queue_item(platform: Platform, number: int, actor_id: str) -> dict[str, Any]:
    """Case `number` in Campus Support's queue once its last activity is by `actor_id`."""

    async def item() -> dict[str, Any] | None:
        answer = await platform.routing.get(
            "/queues/campus-support", params={"limit": 200}, headers=_auth(PAT)
        )
        if answer.status_code != 200:
            return None
        for entry in answer.json():
            actor = entry.get("last_actor") or {}
            if entry["case_number"] == number and actor.get("id") == actor_id:
                return dict(entry)
        return None

    return await _eventually(item, f"case {number}'s last activity by {actor_id}")


async def _console(platform: Platform, *args: str) -> tuple[int, str, str]:
    """Run `python -m routing.console <args>` as Pat; exit code, stdout, stderr."""
    env = {
        **os.environ,
        "ROUTING_INTAKE_URL": platform.intake_url,
        "ROUTING_URL": platform.routing_url,
        "ROUTING_STAFF_TOKEN": PAT,
    }
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "routing.console", *args),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_a_staff_post_from_the_console_reaches_the_contact_and_the_queue(
    platform: Platform,
) -> None:
    """Pat posts from the console: Zack sees it on the case feed and the queue shows the post
    by Pat (staff), no customer reply; Zack's answer then flags customer replied."""
    number = await _submitted_and_routed(platform)
    text = "Add the snow day under Calendar, then Days; the periods follow."
    code, out, err = await _console(platform, "post", str(number), text)
    assert code == 0, err
    assert f"to case {number}" in out

    async def post_in_feed() -> dict[str, Any] | None:
        feed = await platform.feed.get(f"/cases/{number}/feed", headers=_auth(ZACK))
        if feed.status_code != 200:
            return None
        posts = [i for i in feed.json()["items"] if i["kind"] == "post"]
        return next((p for p in posts if p.get("body_text") == text), None)

    seen = await _eventually(post_in_feed, "Pat's post in Zack's feed")
    assert seen["actor"]["name"] == "Pat Support"
    item = await _queue_item(platform, number, "staff-support")
    assert item["last_activity"] == "post"
    assert item["last_actor"] == {"kind": "staff", "id": "staff-support", "name": "Pat Support"}
    assert item["customer_replied"] is False
    assert item["last_activity_summary"].endswith("by Pat Support (staff)")

    answer = await platform.intake.post(
        f"/cases/{number}/posts", data={"body": "Thanks, done."}, headers=_auth(ZACK)
    )
    assert answer.status_code == 201, answer.text
    replied = await _queue_item(platform, number, "zack-morris")
    assert replied["customer_replied"] is True
    assert replied["last_activity_summary"].endswith("by Zack Morris (TESTING) (contact)")


async def test_the_console_lists_the_queue_with_last_activity(platform: Platform) -> None:
    """`queue campus-support` shows the case's last post, by Pat (staff), then Zack's reply."""
    number = await _submitted_and_routed(platform)
    code, _, err = await _console(platform, "post", str(number), "Which term is it for?")
    assert code == 0, err
    await _queue_item(platform, number, "staff-support")
    code, out, err = await _console(platform, "queue", "campus-support", "--limit", "200")
    assert code == 0, err
    (line,) = [line for line in out.splitlines() if line.startswith(f"#{number} ")]
    assert "| last: post " in line
    # The staff post met the first response: the resolution is the next due point.
    assert "by Pat Support (staff)  | due in " in line
    answer = await platform.intake.post(
        f"/cases/{number}/posts", data={"body": "Fall term."}, headers=_auth(ZACK)
    )
    assert answer.status_code == 201, answer.text
    await _queue_item(platform, number, "zack-morris")
    code, out, err = await _console(platform, "queue", "campus-support", "--limit", "200")
    (line,) = [line for line in out.splitlines() if line.startswith(f"#{number} ")]
    assert "by Zack Morris (TESTING) (contact)  [customer replied]  | due in " in line


async def test_the_console_says_why_intake_refused_a_post(platform: Platform) -> None:
    """A post to a case that does not exist exits 1 with intake's reason."""
    code, _, err = await _console(platform, "post", "9999999", "Hello")
    assert code == 1
    assert "intake answered 404" in err
