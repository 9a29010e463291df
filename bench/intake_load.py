"""Intake load benchmark: accepted submissions/s and latency, side by side with a bare endpoint.

Starts `python -m intake` as a real process on the local stack (this run's own namespace and
database, free port), and `bench/intake_bare_app.py` (the same edge validation, no Kafka, no
Mongo), one server at a time, and drives each from a separate load-generator process (uvloop,
keep-alive HTTP/1.1 on raw streams): after a warm-up that is reported but not measured, an open
loop at a fixed offered rate for latency (measured from each request's scheduled start, so a
stall is not hidden), then a closed loop for maximum throughput. Intake answers a Server-Timing
header, so the report splits each latency into phases. With --baseline another copy of the
intake package runs in alternating rounds, for a before/after on the same machine minutes apart.
Adds the raw aiokafka produce rate with acks=all for reference, writes docs/bench/intake.md and
deletes the run's topics and database. Loopback only; bounded in count and time.

    uv run python bench/intake_load.py --count 4000 --concurrency 64 --rate 300 --seconds 10
    uv run python bench/intake_load.py ... --rounds 3 --baseline /tmp/old  # /tmp/old/intake
"""

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import uvloop
from aiokafka import AIOKafkaProducer

from devstack.cleanup import forget_namespace
from shared.kafka import ensure_topics
from shared.topics import TopicSpec

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "bench" / "intake.md"
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGO = os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27017/?directConnection=true")
TOKEN = "local-dev-only-zack-morris-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bodies() -> list[dict[str, Any]]:
    """A mix of case types, valid today."""
    past = str(datetime.now(UTC).date() - timedelta(days=3))
    common = {"subject": "Teachers unable to post grades", "description": "None of the teachers..."}
    return [
        {**common, "case_type": "Ask a Question", "module": "Calendar (terms, periods, days)"},
        {
            **common,
            "case_type": "Application Issue",
            "application_type": "Campus Application",
            "module": "Grade Book",
            "steps_to_reproduce": "1. Log in as teacher 2. Open Grade Book 3. Click Post",
            "expected_results": "Post button active",
            "who_is_impacted": "English Lit 1100 teachers",
            "issue_began": past,
        },
        {**common, "case_type": "Report an Outage", "priority": "Critical"},
    ]


# --- load generator (runs in its own process) -----------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def phase_summary(latencies: list[float], phases: list[dict[str, float]]) -> dict[str, Any]:
    """Per-phase p50/p95/p99 (ms) from the server's Server-Timing, plus the time outside the
    server's app (client latency minus `app`: waiting to be read, CPU contention, transport)."""
    timed = [(lat, p) for lat, p in zip(latencies, phases, strict=True) if "app" in p]
    if not timed:
        return {}
    outside = [lat * 1000 - p["app"] for lat, p in timed]
    columns = {n: [p.get(n, 0.0) for _, p in timed] for n in ("number", "kafka", "app")}
    columns["outside app"] = outside
    return {
        name: [round(percentile(values, q), 1) for q in (0.50, 0.95, 0.99)]
        for name, values in columns.items()
    }


def summary(
    latencies: list[float],
    codes: dict[int, int],
    elapsed: float,
    phases: list[dict[str, float]] | None = None,
) -> dict[str, Any]:
    ok = codes.get(201, 0)
    return {
        "phases": phase_summary(latencies, phases or []),
        "ok": ok,
        "codes": codes,
        "elapsed_s": round(elapsed, 2),
        "per_s": round(ok / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
    }


class Connection:
    """A keep-alive HTTP/1.1 connection on asyncio streams: httpx's pool, not the server, was
    the bottleneck at a few hundred requests/s on this machine, so the generator speaks raw HTTP
    (the request bytes are built once; the generator runs on uvloop)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.timings: dict[str, float] = {}

    async def open(self) -> None:
        """Connect now, so the first request does not pay for it."""
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, request: bytes) -> int:
        """Send one prepared request and read the whole answer; 0 on a transport error.

        A kept-alive connection the server closed while idle (uvicorn: after 5 s) answers
        nothing; the request is then sent once more on a new connection.
        """
        reused = self.writer is not None
        status = await self._exchange(request)
        if status is None and reused:
            status = await self._exchange(request)
        return status or 0

    async def _exchange(self, request: bytes) -> int | None:
        try:
            if self.writer is None:
                await self.open()
            assert self.reader is not None
            assert self.writer is not None
            self.writer.write(request)
            status_line = await asyncio.wait_for(self.reader.readline(), 30)
            if not status_line:
                raise ConnectionResetError("closed by the server")
            length, self.timings = 0, {}
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
                elif name.lower() == b"server-timing":
                    self.timings = parse_server_timing(value.decode())
            await self.reader.readexactly(length)
            return int(status_line.split()[1])
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, IndexError):
            if self.writer is not None:
                self.writer.close()
            self.writer = None
            return None


def parse_server_timing(value: str) -> dict[str, float]:
    """`app;dur=4.20, kafka;dur=3.10` as {"app": 4.2, "kafka": 3.1} (milliseconds)."""
    found = {}
    for item in value.split(","):
        name, _, duration = item.strip().partition(";dur=")
        if duration:
            found[name] = float(duration)
    return found


def requests_for(host: str, token: str) -> list[bytes]:
    """The prepared POST /cases requests, one per body."""
    prepared = []
    for body in bodies():
        payload = json.dumps(body).encode()
        head = (
            f"POST /cases HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        prepared.append(head.encode() + payload)
    return prepared


def _target(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


async def closed_loop(url: str, count: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    phases: list[dict[str, float]] = []
    codes: dict[int, int] = {}
    remaining = iter(range(count))
    prepared = requests_for(_target(url)[0], TOKEN)

    async def worker() -> None:
        connection = Connection(*_target(url))
        for i in remaining:
            started = time.perf_counter()
            status = await connection.post(prepared[i % len(prepared)])
            latencies.append(time.perf_counter() - started)
            phases.append(connection.timings)
            codes[status] = codes.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summary(latencies, codes, time.perf_counter() - started, phases)


async def open_loop(url: str, rate: float, seconds: float) -> dict[str, Any]:
    """Requests at fixed times; each latency counts from its scheduled start."""
    latencies: list[float] = []
    phases: list[dict[str, float]] = []
    codes: dict[int, int] = {}
    prepared = requests_for(_target(url)[0], TOKEN)
    idle: list[Connection] = [Connection(*_target(url)) for _ in range(16)]
    await asyncio.gather(*(c.open() for c in idle))
    start = time.perf_counter() + 0.2

    async def one(i: int) -> None:
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        connection = idle.pop() if idle else Connection(*_target(url))
        status = await connection.post(prepared[i % len(prepared)])
        idle.append(connection)
        latencies.append(time.perf_counter() - due)
        phases.append(connection.timings)
        codes[status] = codes.get(status, 0) + 1

    await asyncio.gather(*(one(i) for i in range(int(rate * seconds))))
    return summary(latencies, codes, time.perf_counter() - start, phases)


def generate(args: argparse.Namespace) -> None:
    """Load-generator process: print one JSON line of results."""
    if args.mode == "closed":
        result = uvloop.run(closed_loop(args.url, args.count, args.concurrency))
    else:
        result = uvloop.run(open_loop(args.url, args.rate, args.seconds))
    print(json.dumps(result))


def run_generator(url: str, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--generate", url, "--mode", mode]
    argv += ["--count", str(args.count), "--concurrency", str(args.concurrency)]
    argv += ["--rate", str(args.rate), "--seconds", str(args.seconds)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# --- the servers under test ----------------------------------------------------------------


NAMESPACE = "bench" + uuid4().hex[:8]  # this run's topics and database; removed at the end


def start_intake(port: int, code: str | None = None) -> subprocess.Popen[bytes]:
    """`python -m intake` on this run's topics and database; `code` is another copy of the
    intake package to run instead (a baseline measured side by side)."""
    namespace = NAMESPACE
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP,
        "MONGO_URL": MONGO,
        "TOPIC_NAMESPACE": namespace,
        "INTAKE_PORT": str(port),
        "INTAKE_MONGO_DATABASE": f"intake_{namespace}",
        "INTAKE_RATE_PER_SECOND": "1000000",
        "INTAKE_RATE_BURST": "1000000",
        "LOG_LEVEL": "WARNING",
        "INTAKE_SEED_FILE": str(ROOT / "deploy" / "seed" / "directory.json"),
    }
    if code:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [code, env.get("PYTHONPATH")]))
    return subprocess.Popen([sys.executable, "-m", "intake"], env=env, cwd=ROOT)


def start_bare(port: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, str(ROOT / "bench" / "intake_bare_app.py"), str(port)]
    return subprocess.Popen(argv, cwd=ROOT)


def wait_ready(url: str, limit: float = 90.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} never became ready")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- raw Kafka reference ---------------------------------------------------------------------


async def raw_kafka(count: int, size: int) -> dict[str, Any]:
    topic = f"{NAMESPACE}.raw"
    await ensure_topics(BOOTSTRAP, [TopicSpec(topic, partitions=6)])
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True, linger_ms=2
    )
    await producer.start()
    try:
        value = b"x" * size
        started = time.perf_counter()
        for chunk in range(0, count, 500):
            sends = [
                await producer.send(topic, value, key=str(uuid4()).encode())
                for _ in range(min(500, count - chunk))
            ]
            await asyncio.gather(*sends)
        batched = count / (time.perf_counter() - started)
        one_by_one = []
        for _ in range(300):
            t0 = time.perf_counter()
            await producer.send_and_wait(topic, value, key=str(uuid4()).encode())
            one_by_one.append(time.perf_counter() - t0)
        return {
            "batched_per_s": round(batched),
            "single_p50_ms": round(statistics.median(one_by_one) * 1000, 2),
            "single_p99_ms": round(percentile(one_by_one, 0.99) * 1000, 2),
        }
    finally:
        await producer.stop()


async def clean_up(namespace: str) -> None:
    """Delete this run's topics and database: the shared broker is slower with every partition."""
    await forget_namespace(BOOTSTRAP, MONGO, namespace, f"intake_{namespace}")


# --- report ----------------------------------------------------------------------------------


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def report(args: argparse.Namespace, results: dict[str, Any], command: str) -> str:
    runs: list[tuple[str, int, dict[str, Any]]] = results["runs"]
    raw = results["raw_kafka"]
    lines = [
        "# Intake benchmark",
        "",
        "How many case submissions intake accepts per second (`POST /cases`, each acknowledged",
        "by Kafka with acks=all before the answer) and how fast it answers at a steady offered",
        "rate, next to a bare endpoint with the same validation and no Kafka or Mongo, measured",
        "in the same run. The required minimum (the first bar this had to pass) is 1,000",
        "accepted submissions/s and a p99 of 100 ms at 300/s offered; the target (where the",
        "design aims on this machine class) is 2,000/s and at least 50 % of the bare endpoint.",
        f"Reproduce on the local stack (`make up-infra`) with `{command}`;",
        "it rewrites this file.",
        "",
        f"- when: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"- machine: {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}",
        "- stack: local Apache Kafka (KRaft, 1 node), SecantusDB Mongo-wire server, loopback;",
        "  each server under test runs alone (started, measured, stopped), the load generator",
        "  is a separate uvloop process on the same 2 cores (shared with the other engineers'",
        "  work at the time of the run); with --baseline, rounds alternate baseline and intake",
        f"- command: `{command}`",
        "- intake: `python -m intake` (uvicorn, uvloop, httptools), LOG_LEVEL=WARNING;",
        "  CaseSubmitted acked by Kafka (acks=all) before each answer",
        "- bare: `bench/intake_bare_app.py`: same body model and edge rules, no Kafka, no Mongo",
        f"- per server: warm-up (closed loop of 300, then {args.warmup:g} s open loop at the",
        "  offered rate: consumer-group join, new topics' leaders; reported, not measured),",
        "  then the measured open loop, then the closed loop",
        "",
        "| target | round | mode | accepted | accepted/s | p50 ms | p95 ms | p99 ms | max ms "
        "| status codes | load avg before |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    modes = (
        ("warmup", f"warm-up, open {args.rate:g}/s (excluded)"),
        ("open", f"open loop, {args.rate:g}/s offered"),
        ("closed", f"closed loop, {args.concurrency} in flight"),
    )
    for name, round_, result in runs:
        for mode, label in modes:
            r = result[mode]
            lines.append(
                f"| {name} | {round_} | {label} | {r['ok']} | {r['per_s']} | {r['p50_ms']} "
                f"| {r['p95_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['codes']} | {r['load']} |"
            )
    lines += ["", *phase_table(runs, args), "", *medians(runs)]
    lines += [
        f"- raw aiokafka, acks=all, idempotent, linger 2 ms, {args.raw_size}-byte values: "
        f"{raw['batched_per_s']} msg/s pipelined; one at a time p50 {raw['single_p50_ms']} ms, "
        f"p99 {raw['single_p99_ms']} ms",
        "",
        "Required minimum: >= 1,000 accepted submissions/s; p99 <= 100 ms at 300/s offered.",
        "Target: >= 2,000 accepted submissions/s and >= 50 % of the bare endpoint.",
        "",
    ]
    return "\n".join(lines)


def phase_table(runs: list[tuple[str, int, dict[str, Any]]], args: argparse.Namespace) -> list[str]:
    """Where the time went (Server-Timing), for every run that reported it."""
    lines = [
        f"Phases of the measured open loop ({args.rate:g}/s), p50 / p95 / p99 ms: `number` waits",
        "for a case number, `kafka` for the acks=all acknowledgement, `app` is the whole request",
        "inside the server's ASGI app, `outside app` is the client's latency minus `app`",
        "(accepting and reading the request, CPU taken by other processes, the generator):",
        "",
        "| target | round | number | kafka | app | outside app |",
        "| --- | ---: | --- | --- | --- | --- |",
    ]
    for name, round_, result in runs:
        phases = result["open"].get("phases")
        if phases:
            cells = " | ".join(" / ".join(str(v) for v in phases[k]) for k in phases)
            lines.append(f"| {name} | {round_} | {cells} |")
    return lines


def medians(runs: list[tuple[str, int, dict[str, Any]]]) -> list[str]:
    """Median over rounds of the open-loop p99 and the closed-loop rate, per target."""
    lines = []
    for name in dict.fromkeys(n for n, _, _ in runs):
        mine = [r for n, _, r in runs if n == name]
        p99 = statistics.median(r["open"]["p99_ms"] for r in mine)
        rate = statistics.median(r["closed"]["per_s"] for r in mine)
        lines.append(
            f"- {name}: median over {len(mine)} round(s): open-loop p99 **{p99} ms**, "
            f"closed loop **{rate} accepted/s**"
        )
    bare = [r["closed"]["per_s"] for n, _, r in runs if n == "bare"]
    ours = [r["closed"]["per_s"] for n, _, r in runs if n == "intake"]
    if bare and ours and bare[0]:
        ratio = statistics.median(ours) / bare[0]
        lines.append(f"- intake / bare throughput (closed loop): **{ratio:.0%}**")
    return lines


def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then the open loop, then the closed loop, against one running server."""
    run_generator(url, "closed", argparse.Namespace(**{**vars(args), "count": 300}))
    results: dict[str, Any] = {}
    for mode, settings in (
        ("warmup", {"seconds": args.warmup}),
        ("open", {}),
        ("closed", {}),
    ):
        before = load()
        mode_of = "closed" if mode == "closed" else "open"
        results[mode] = run_generator(
            url, mode_of, argparse.Namespace(**{**vars(args), **settings})
        )
        results[mode]["load"] = before
    return results


def orchestrate(args: argparse.Namespace) -> None:
    targets: dict[str, Any] = {}
    if args.baseline:
        targets["intake (baseline)"] = lambda port: start_intake(port, args.baseline)
    targets["intake"] = start_intake
    plan = [(name, n) for n in range(1, args.rounds + 1) for name in targets]
    plan.append(("bare", 1))
    targets["bare"] = start_bare
    runs: list[tuple[str, int, dict[str, Any]]] = []
    for name, round_ in plan:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = targets[name](port)
        try:
            wait_ready(url)
            runs.append((name, round_, measure(url, args)))
        finally:
            stop(server)
        print(name, round_, json.dumps(runs[-1][2]), flush=True)
    raw = asyncio.run(raw_kafka(args.raw_count, args.raw_size))
    print("raw_kafka", json.dumps(raw))
    asyncio.run(clean_up(NAMESPACE))
    command = "uv run python bench/intake_load.py " + " ".join(sys.argv[1:])
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        text = report(args, {"runs": runs, "raw_kafka": raw}, command.strip())
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generate", metavar="URL", help="run as the load generator against URL")
    parser.add_argument("--mode", choices=["closed", "open"], default="closed")
    parser.add_argument("--count", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--raw-count", type=int, default=20000)
    parser.add_argument("--raw-size", type=int, default=900)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of open-loop warm-up")
    parser.add_argument(
        "--baseline", metavar="DIR", help="also measure the intake package found under DIR"
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds of each intake target")
    parser.add_argument("--output", default=str(OUT), help="report file; empty: none")
    args = parser.parse_args()
    if args.generate:
        args.url = args.generate
        generate(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
