"""Staff queue benchmark: the queue page's server time with 10k open items in one department,
beside the routing calls it wraps, and how soon a new work item shows on an open queue page.

Seeds routing's own bench database directly through routing's code (each case decided by
`routing.logic.on_submitted`, stored by `CaseStore.save_many`, then `ensure_indexes`): 10,000
open Ask a Question cases, all in Campus Support. Starts its own `python -m intake` (the seed
directory published on the bench's topic namespace), `python -m routing` and `python -m portal`
on free ports against the running local Kafka and Mongo-wire server, and signs a staff session
cookie for Pat Support (Campus Support) with the portal's session secret.

(a) Server time: `/staff/queues/campus-support` through the portal, alternating sample by
sample with the two routing calls it makes (`GET /queues/campus-support` for the page and
`GET /queues/campus-support/counts` for the total and counts per status); each process's
access-log `duration_ms` for the bench's request ids.

(b) Live: the queue page's SSE stream (`/staff/queues/campus-support/live`, the page's own query:
newest first, 200 a page) stays open while CaseSubmitted records go to the namespace's
case.events topic at `--rate` per second (what intake publishes; routing consumes them as in
production). On each `changed` event the bench fetches the page's part as htmx does and notes
when each new case's row first shows; latency is from the record's send to that moment.

    flock /tmp/bench.lock uv run --frozen python bench/staff_queue.py
    flock /tmp/bench.lock uv run --frozen python bench/staff_queue.py --items 10000 --samples 60 \
        --rate 100 --seconds 15
"""

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any
from uuid import uuid4

import httpx
from aiokafka import AIOKafkaProducer
from portal.staff_service import StaffCookies, StaffSession

from routing.logic import BusinessCalendar, Context, RoutingTable, on_submitted
from routing.settings import Settings as RoutingSettings
from routing.sla import SlaPolicy
from routing.store import CaseStore
from shared.enums import ActorKind
from shared.events import CaseSubmitted
from shared.identity import IdentityKeys
from shared.mongo import mongo_client
from shared.topics import Topics
from shared.zones import DEFAULT_TIME_ZONE

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "deploy" / "seed" / "directory.json"
KEY = "staff-queue-bench-identity-key-" + "k" * 16
SECRET = "staff-queue-bench-session-secret-" + "s" * 16
PAT = "staff-support"  # Campus Support in the seed directory
SLUG = "campus-support"
QUEUE = f"/staff/queues/{SLUG}"
# The routing calls the default queue page makes (portal.staff_logic.routing_params).
PAGE_PARAMS = {"sort": "work", "order": "asc", "limit": "50", "offset": "0"}
LIVE_QUERY = {"sort": "number", "order": "desc", "page_size": "200"}  # newest first
CHUNK = 1_000
FIRST_NUMBER = 5_000_000
LIVE_NUMBER = 6_000_000
ZACK = {"kind": "contact", "id": "zack-morris", "name": "Zack Morris"}


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p95 and p99 in milliseconds (nearest rank)."""
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 1)

    return {"p50_ms": rank(0.5), "p95_ms": rank(0.95), "p99_ms": rank(0.99), "n": len(ordered)}


def submitted(number: int, subject: str, priority: str, at: datetime) -> CaseSubmitted:
    """An Ask a Question case (routed to Campus Support)."""
    return CaseSubmitted.model_validate(
        {
            "case_id": uuid4(),
            "case_number": number,
            "account_id": "bayside",
            "contact_id": "zack-morris",
            "submitted_by": ZACK,
            "priority": priority,
            "subject": subject,
            "description": "benchmark",
            "details": {"case_type": "Ask a Question", "module": "Grade Book"},
            "occurred_at": at,
        }
    )


async def seed(settings: RoutingSettings, items: int) -> dict[str, float]:
    """`items` open Campus Support cases, decided by routing's own logic and stored in bulk."""
    client = mongo_client(settings, timeout_ms=600_000)
    store = CaseStore(client[settings.mongo_database])
    table, policy, calendar = RoutingTable.load(None), SlaPolicy.load(None), BusinessCalendar("US")
    rng = Random(17)
    t0 = datetime.now(UTC) - timedelta(days=5)
    began = time.perf_counter()
    for chunk in range(0, items, CHUNK):
        ctx = Context(datetime.now(UTC), calendar, DEFAULT_TIME_ZONE, sla=policy)
        states = []
        for i in range(chunk, min(chunk + CHUNK, items)):
            priority = rng.choice(["Low", "Medium", "Medium", "High"])
            event = submitted(
                FIRST_NUMBER + i, f"Seeded case {i}", priority, t0 + timedelta(seconds=i)
            )
            state = on_submitted(event, table.route(event.case_type, None), ctx).state
            assert state is not None
            states.append(state)
        await store.save_many(states, {s.case_id for s in states})
    loaded = time.perf_counter() - began
    began = time.perf_counter()
    await store.ensure_indexes()
    indexed = time.perf_counter() - began
    await client.close()
    return {"seed_s": round(loaded, 1), "index_s": round(indexed, 1)}


def start(module: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`python -m <module>` with the bench's environment, its JSON log into `log`."""
    full = {**os.environ, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO", **env}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", module], env=full, stderr=out, stdout=out)


async def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 180) -> None:
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


def server_times(log: Path, prefix: str) -> dict[str, float]:
    """Percentiles of the access-log durations of the requests whose id starts with `prefix`."""
    durations = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if '"duration_ms"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        rid = str(entry.get("request_id") or "")
        timed = rid.startswith(prefix) and "warm" not in rid
        if timed and entry.get("logger") == "shared.access":
            durations.append(float(entry["duration_ms"]))
    return percentiles(durations)


def staff_cookie() -> str:
    """Pat's staff session cookie, signed as the portal signs it."""
    session = StaffSession(
        sid="bench", staff_id=PAT, csrf="bench-csrf", expires_at=int(time.time()) + 3600
    )
    return StaffCookies(SECRET).encode(session)


class Clients:
    """The portal as Pat's browser, and routing as Pat's staff token."""

    def __init__(self, portal: str, routing: str) -> None:
        self.web = httpx.AsyncClient(base_url=portal, timeout=60)
        self.web.cookies.set("portal_staff", staff_cookie())
        self.routing = httpx.AsyncClient(base_url=routing, timeout=60)
        self.keys = IdentityKeys(KEY)

    def bearer(self, rid: str) -> dict[str, str]:
        token = self.keys.issue(ActorKind.STAFF, PAT)
        return {"Authorization": f"Bearer {token}", "X-Request-ID": rid}

    async def close(self) -> None:
        await self.web.aclose()
        await self.routing.aclose()


async def server_time_phase(
    clients: Clients, samples: int, logs: dict[str, Path]
) -> dict[str, Any]:
    """(a): the page, its list call and its counts call, alternating sample by sample."""

    async def page(rid: str) -> None:
        answer = await clients.web.get(QUEUE, headers={"X-Request-ID": f"sq-page-{rid}"})
        assert answer.status_code == 200, answer.text[:300]

    async def listed(rid: str) -> None:
        headers = clients.bearer(f"sq-list-{rid}")
        answer = await clients.routing.get(f"/queues/{SLUG}", params=PAGE_PARAMS, headers=headers)
        assert answer.status_code == 200, answer.text[:300]
        assert len(answer.json()) == 50

    async def counted(rid: str) -> None:
        headers = clients.bearer(f"sq-count-{rid}")
        answer = await clients.routing.get(f"/queues/{SLUG}/counts", headers=headers)
        assert answer.status_code == 200, answer.text[:300]

    calls: list[tuple[str, Callable[[str], Awaitable[None]]]] = [
        ("page", page),
        ("list", listed),
        ("counts", counted),
    ]
    client_ms: dict[str, list[float]] = {name: [] for name, _ in calls}
    for i in range(3):
        for _, call in calls:
            await call(f"warm{i}")
    for i in range(samples):
        for name, call in calls:
            began = time.perf_counter()
            await call(str(i))
            client_ms[name].append((time.perf_counter() - began) * 1000)
    await asyncio.sleep(1.0)  # the access lines are written
    total = (
        await clients.routing.get(f"/queues/{SLUG}/counts", headers=clients.bearer("sq-x"))
    ).json()
    return {
        "open items in the queue": total["total"],
        "page /staff/queues/campus-support (server)": server_times(logs["portal"], "sq-page-"),
        "routing GET /queues/campus-support?sort=work&order=asc&limit=50&offset=0 (server)": (
            server_times(logs["routing"], "sq-list-")
        ),
        "routing GET /queues/campus-support/counts (server)": server_times(
            logs["routing"], "sq-count-"
        ),
        "client": {name: percentiles(values) for name, values in client_ms.items()},
    }


class Watcher:
    """The open queue page: its SSE stream, and the part htmx fetches on each `changed`."""

    def __init__(self, clients: Clients, tag: str) -> None:
        self.clients, self.pattern = clients, re.compile(rf"Live {tag} (\d+)<")
        self.seen: dict[int, float] = {}
        self.changed: list[float] = []
        self.fetch_ms: list[float] = []
        self.wanted = asyncio.Event()
        self.connected = asyncio.Event()

    async def stream(self) -> None:
        async with self.clients.web.stream("GET", f"{QUEUE}/live", params=LIVE_QUERY) as answer:
            assert answer.status_code == 200
            self.connected.set()
            async for line in answer.aiter_lines():
                if line.startswith("event: changed"):
                    self.changed.append(time.perf_counter())
                    self.wanted.set()

    async def fetch(self) -> None:
        """One part at a time; a `changed` during a fetch asks for one more after it."""
        while True:
            await self.wanted.wait()
            self.wanted.clear()
            began = time.perf_counter()
            part = await self.clients.web.get(f"{QUEUE}/part", params=LIVE_QUERY)
            now = time.perf_counter()
            self.fetch_ms.append((now - began) * 1000)
            for number in map(int, self.pattern.findall(part.text)):
                self.seen.setdefault(number, now)


async def live_phase(
    clients: Clients, bootstrap: str, topics: Topics, rate: float, seconds: float
) -> dict[str, Any]:
    """(b): submissions at `rate`/s for `seconds` while the queue page's stream is open."""
    tag = uuid4().hex[:6]
    watcher = Watcher(clients, tag)
    tasks = [asyncio.create_task(watcher.stream()), asyncio.create_task(watcher.fetch())]
    await asyncio.wait_for(watcher.connected.wait(), 30)
    await asyncio.sleep(3.0)  # the stream's first look is taken
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    sent: dict[int, float] = {}
    count = int(rate * seconds)
    began = time.perf_counter()
    try:
        for k in range(count):
            due = began + k / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            number = LIVE_NUMBER + k
            event = submitted(number, f"Live {tag} {number}", "Medium", datetime.now(UTC))
            sent[number] = time.perf_counter()
            await producer.send(
                topics.case_events,
                event.model_dump_json().encode(),
                key=str(event.case_id).encode(),
            )
        achieved = count / (time.perf_counter() - began)
        await producer.flush()
        await asyncio.sleep(min(30.0, 5.0 + seconds))  # the last rows show, or never will
    finally:
        await producer.stop()
        for task in tasks:
            task.cancel()
    latencies = [(watcher.seen[n] - t) * 1000 for n, t in sent.items() if n in watcher.seen]
    gaps = [(b - a) * 1000 for a, b in zip(watcher.changed, watcher.changed[1:], strict=False)]
    return {
        "submitted": count,
        "rate offered /s": rate,
        "rate achieved /s": round(achieved, 1),
        "shown on the open page (newest first, 200 a page)": len(latencies),
        "never shown on its first page (pushed past 200 newer rows before a refresh)": count
        - len(latencies),
        "send -> row on the open page": percentiles(latencies),
        "changed events": len(watcher.changed),
        "between changed events": percentiles(gaps),
        "part fetch (client)": percentiles(watcher.fetch_ms),
    }


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM and wait."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


async def drop(settings: RoutingSettings, databases: list[str]) -> None:
    """Remove the bench databases."""
    client = mongo_client(settings, timeout_ms=120_000)
    for db in databases:
        await client.drop_database(db)
    await client.close()


def processes(namespace: str, logs: Path) -> tuple[dict[str, str], list[Any]]:
    """Intake, routing and the portal of the bench: their URLs and processes (started)."""
    ports = {name: free_port() for name in ("intake", "routing", "portal", "nowhere")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    common = {"TOPIC_NAMESPACE": namespace, "IDENTITY_SIGNING_KEY": KEY}
    specs = [
        ("intake", {"INTAKE_PORT": str(ports["intake"]), "INTAKE_SEED_FILE": str(SEED),
                    "INTAKE_MONGO_DATABASE": f"intake_{namespace}",
                    "SERVICE_NAME": "intake-staff-queue-bench"}),
        ("routing", {"ROUTING_PORT": str(ports["routing"]),
                     "ROUTING_MONGO_DATABASE": f"routing_{namespace}",
                     "SERVICE_NAME": "routing-staff-queue-bench"}),
        ("portal", {"PORTAL_PORT": str(ports["portal"]), "PORTAL_SESSION_SECRET": SECRET,
                    "PORTAL_ROUTING_URL": urls["routing"], "PORTAL_INTAKE_URL": urls["intake"],
                    "PORTAL_FEED_URL": urls["nowhere"], "PORTAL_STATUS_BOARD_URL": urls["nowhere"],
                    "PORTAL_STATUS_BOARD_ADMIN_URL": urls["nowhere"],
                    "PORTAL_MONGO_DATABASE": f"portal_{namespace}",
                    "SERVICE_NAME": "portal-staff-queue-bench"}),
    ]  # fmt: skip
    started = []
    try:
        for name, env in specs:
            started.append(start(name, {**common, **env}, logs / f"{name}.log"))
            asyncio.run(wait_ready(urls[name], started[-1]))
    except BaseException:
        for process in started:
            stop(process)
        raise
    return urls, started


async def wait_for_pat(clients: Clients) -> None:
    """Until the portal's directory knows Pat (read from the namespace's directory topic)."""
    for _ in range(300):
        if (await clients.web.get(QUEUE, headers={"X-Request-ID": "sq-ready"})).status_code == 200:
            return
        await asyncio.sleep(0.3)
    raise RuntimeError("the portal never knew Pat Support")


async def measure(
    args: argparse.Namespace, urls: dict[str, str], namespace: str, logs: Path
) -> Any:
    clients = Clients(urls["portal"], urls["routing"])
    try:
        await wait_for_pat(clients)
        served = await server_time_phase(
            clients, args.samples, {n: logs / f"{n}.log" for n in urls}
        )
        bootstrap = RoutingSettings().kafka_bootstrap_servers
        live = await live_phase(clients, bootstrap, Topics(namespace), args.rate, args.seconds)
        return served, live
    finally:
        await clients.close()


def loadavg() -> str:
    """The machine's load average now."""
    return Path("/proc/loadavg").read_text(encoding="utf-8").strip()


def main() -> None:
    """Seed, start intake, routing and the portal, measure (a) and (b), print JSON; the
    databases are dropped after."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000, help="open items in the queue")
    parser.add_argument("--samples", type=int, default=60, help="alternations in (a)")
    parser.add_argument("--rate", type=float, default=100.0, help="cases/s in (b)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of (b)")
    args = parser.parse_args()
    namespace = "sq" + uuid4().hex[:8]
    settings = RoutingSettings(mongo_database=f"routing_{namespace}")
    load_before = loadavg()
    began = time.perf_counter()
    seeding = asyncio.run(seed(settings, args.items))
    logs = Path(tempfile.mkdtemp(prefix="staff-queue-bench-"))
    urls, started = processes(namespace, logs)
    try:
        served, live = asyncio.run(measure(args, urls, namespace, logs))
    finally:
        for process in reversed(started):
            stop(process)
        asyncio.run(drop(settings, [f"{s}_{namespace}" for s in ("routing", "intake", "portal")]))
    run = {
        "items": args.items,
        "samples": args.samples,
        "seeding": "routing.logic.on_submitted + CaseStore.save_many, chunks of 1,000",
        **seeding,
        "namespace": namespace,
        "logs": str(logs),
        "loadavg before": load_before,
        "loadavg after": loadavg(),
        "wall s": round(time.perf_counter() - began, 1),
    }
    print(json.dumps({"run": run, "server time (a)": served, "live (b)": live}, indent=2))


if __name__ == "__main__":
    main()
