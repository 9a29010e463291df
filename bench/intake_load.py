"""Intake load benchmark: accepted submissions/s and latency, side by side with a bare endpoint.

Starts `python -m intake` as a real process on the local stack (unique namespace and database,
free port) and `bench/intake_bare_app.py` (the same edge validation, no Kafka, no Mongo), then
drives each from a separate load-generator process (asyncio, keep-alive HTTP/1.1): a closed
loop for maximum throughput and an open loop at a fixed offered rate for latency (measured from
each request's scheduled start, so a stall is not hidden). Adds the raw aiokafka produce rate
with acks=all on the same broker for reference, and writes docs/bench/intake.md. Loopback only;
bounded in count and time.

    uv run python bench/intake_load.py --count 6000 --concurrency 64 --rate 300 --seconds 10
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
from aiokafka import AIOKafkaProducer

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


def summary(latencies: list[float], codes: dict[int, int], elapsed: float) -> dict[str, Any]:
    ok = codes.get(201, 0)
    return {
        "ok": ok,
        "codes": codes,
        "elapsed_s": round(elapsed, 2),
        "per_s": round(ok / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
    }


class Connection:
    """A keep-alive HTTP/1.1 connection on asyncio streams: httpx's pool, not the server, was
    the bottleneck at a few hundred requests/s on this machine, so the generator speaks raw HTTP."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, token: str) -> int:
        """Send one POST and read the whole answer; 0 on a transport error."""
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            head = (
                f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            self.writer.write(head.encode() + body)
            assert self.reader is not None
            status_line = await asyncio.wait_for(self.reader.readline(), 30)
            length = 0
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await self.reader.readexactly(length)
            return int(status_line.split()[1])
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, IndexError):
            self.writer = None
            return 0


def _target(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


async def closed_loop(url: str, count: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    remaining = iter(range(count))
    payloads = [json.dumps(b).encode() for b in bodies()]

    async def worker() -> None:
        connection = Connection(*_target(url))
        for i in remaining:
            started = time.perf_counter()
            status = await connection.post("/cases", payloads[i % 3], TOKEN)
            latencies.append(time.perf_counter() - started)
            codes[status] = codes.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return summary(latencies, codes, time.perf_counter() - started)


async def open_loop(url: str, rate: float, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    payloads = [json.dumps(b).encode() for b in bodies()]
    idle: list[Connection] = [Connection(*_target(url)) for _ in range(64)]
    start = time.perf_counter() + 0.2

    async def one(i: int) -> None:
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        connection = idle.pop() if idle else Connection(*_target(url))
        status = await connection.post("/cases", payloads[i % 3], TOKEN)
        idle.append(connection)
        latencies.append(time.perf_counter() - due)
        codes[status] = codes.get(status, 0) + 1

    await asyncio.gather(*(one(i) for i in range(int(rate * seconds))))
    return summary(latencies, codes, time.perf_counter() - start)


def generate(args: argparse.Namespace) -> None:
    """Load-generator process: print one JSON line of results."""
    if args.mode == "closed":
        result = asyncio.run(closed_loop(args.url, args.count, args.concurrency))
    else:
        result = asyncio.run(open_loop(args.url, args.rate, args.seconds))
    print(json.dumps(result))


def run_generator(url: str, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--generate", url, "--mode", mode]
    argv += ["--count", str(args.count), "--concurrency", str(args.concurrency)]
    argv += ["--rate", str(args.rate), "--seconds", str(args.seconds)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# --- the servers under test ----------------------------------------------------------------


def start_intake(namespace: str, port: int) -> subprocess.Popen[bytes]:
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
    }
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
    topic = f"bench{uuid4().hex[:8]}.raw"
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


# --- report ----------------------------------------------------------------------------------


def report(args: argparse.Namespace, results: dict[str, Any], command: str) -> str:
    intake, bare = results["intake"], results["bare"]
    ratio = intake["closed"]["per_s"] / bare["closed"]["per_s"] if bare["closed"]["per_s"] else 0
    raw = results["raw_kafka"]
    lines = [
        "# Intake benchmark",
        "",
        f"- when: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"- machine: {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}",
        "- stack: local Apache Kafka (KRaft, 1 node), SecantusDB Mongo-wire server, loopback;",
        "  intake, the bare endpoint and the load generator are separate processes on the",
        "  same 2 cores (shared with the other engineers' work at the time of the run)",
        f"- command: `{command}`",
        "- intake: `python -m intake` (uvicorn, uvloop, httptools), LOG_LEVEL=WARNING;",
        "  CaseSubmitted acked by Kafka (acks=all) before each answer; the case record is",
        "  written behind the answer (group commit), no Mongo round trip on the hot path",
        "- bare: `bench/intake_bare_app.py`: same body model and edge rules, no Kafka, no Mongo",
        "",
        "| target | mode | accepted | accepted/s | p50 ms | p99 ms | max ms | status codes |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name in ("intake", "bare"):
        for mode, label in (
            ("closed", f"closed loop, {args.concurrency} in flight"),
            ("open", f"open loop, {args.rate:g}/s offered"),
        ):
            r = results[name][mode]
            lines.append(
                f"| {name} | {label} | {r['ok']} | {r['per_s']} | {r['p50_ms']} | {r['p99_ms']} "
                f"| {r['max_ms']} | {r['codes']} |"
            )
    lines += [
        "",
        f"- intake / bare throughput (closed loop): **{ratio:.0%}**",
        f"- raw aiokafka, acks=all, idempotent, linger 2 ms, {args.raw_size}-byte values: "
        f"{raw['batched_per_s']} msg/s pipelined; one at a time p50 {raw['single_p50_ms']} ms, "
        f"p99 {raw['single_p99_ms']} ms",
        "",
        "Floors (issue): >= 1,000 accepted submissions/s; p99 <= 100 ms at 300/s offered.",
        "",
    ]
    return "\n".join(lines)


def orchestrate(args: argparse.Namespace) -> None:
    namespace = "bench" + uuid4().hex[:8]
    intake_port, bare_port = free_port(), free_port()
    servers = {"intake": start_intake(namespace, intake_port), "bare": start_bare(bare_port)}
    urls = {"intake": f"http://127.0.0.1:{intake_port}", "bare": f"http://127.0.0.1:{bare_port}"}
    results: dict[str, Any] = {}
    try:
        for url in urls.values():
            wait_ready(url)
        print("servers ready", flush=True)
        for name, url in urls.items():
            run_generator(
                url, "closed", argparse.Namespace(**{**vars(args), "count": 300})
            )  # warm-up
            results[name] = {
                "closed": run_generator(url, "closed", args),
                "open": run_generator(url, "open", args),
            }
            print(name, json.dumps(results[name]), flush=True)
    finally:
        for process in servers.values():
            stop(process)
    results["raw_kafka"] = asyncio.run(raw_kafka(args.raw_count, args.raw_size))
    print("raw_kafka", json.dumps(results["raw_kafka"]))
    command = "uv run python bench/intake_load.py " + " ".join(sys.argv[1:])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(report(args, results, command.strip()), encoding="utf-8")
    print(f"wrote {OUT}")


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
    args = parser.parse_args()
    if args.generate:
        args.url = args.generate
        generate(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
