"""Status board load with every upstream down, side by side with nginx serving its export.

`uv run python bench/status_board_load.py` starts the real `python -m status_board` on free
loopback ports with its own data dir, Kafka pointed at a dead port (127.0.0.1:1), no Mongo and
its static export on (STATUS_BOARD_EXPORT_DIR), seeds notices through the admin API, then
starts Debian's nginx serving that export folder with deploy/status-board/nginx.conf: the same
bytes at the same URLs. Both servers run on one core (taskset -c 0), the load generator on the
other (`wrk` if installed, else a stdlib asyncio keep-alive client, `--driver raw`); each
endpoint is measured in alternating rounds, board then nginx, so both see the same machine
load. Prints a Markdown report, writes it to --out (default docs/bench/status-board.md) and
exits 1 if the page is under the floor. Without nginx (`apt-get install -y nginx-light`) it
measures the board alone and says so.
"""

import argparse
import asyncio
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DEAD_KAFKA = "127.0.0.1:1"
DEAD_MONGO = "mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=200"
TOKEN = "bench-admin-token-of-24-characters"
PAGE_FLOOR = 2_000.0
RATIO_TARGET = 50.0  # the board's req/s as a % of nginx serving the same bytes on the same core
SERVER_CPU, LOAD_CPU = "0", "1"
NGINX_CONF = ROOT / "deploy" / "status-board" / "nginx.conf"
INSTALL_NGINX = "apt-get install -y nginx-light  (Debian; `nginx` works too)"
DRIVERS = {
    "wrk": "one wrk thread on one core, the server (one process) on the other.",
    "raw": "stdlib asyncio keep-alive client, one process per core but one.",
    "httpx": "httpx clients, one process per core but one; httpx tops out near 900 req/s per"
    " process here, so these figures measure the client, not the board.",
}
ENDPOINTS = [
    ("page (open tab)", "/", False),
    ("page (closed tab)", "/notifications?tab=closed", False),
    ("page, revalidated (304)", "/", True),
    ("banner JSON", "/api/banner", False),
    ("notices JSON (open)", "/api/notices?state=open", False),
    ("Atom feed", "/feed.atom", False),
]


@dataclass
class Result:
    """One endpoint's figures."""

    name: str
    path: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    rounds: tuple[float, ...] = ()
    server: str = "board"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Board:
    """The status board process under test."""

    def __init__(self, data_dir: Path, log_level: str) -> None:
        self.port, self.admin_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.export_dir = data_dir / "export"
        env = os.environ | {
            "STATUS_BOARD_DATA_DIR": str(data_dir),
            "STATUS_BOARD_EXPORT_DIR": str(self.export_dir),
            "STATUS_BOARD_PORT": str(self.port),
            "STATUS_BOARD_ADMIN_PORT": str(self.admin_port),
            "STATUS_BOARD_ADMIN_TOKEN": TOKEN,
            "KAFKA_BOOTSTRAP_SERVERS": DEAD_KAFKA,
            "MONGO_URL": DEAD_MONGO,
            "LOG_LEVEL": log_level,
        }
        self.log = data_dir / "board.log"
        cmd = [*pinned(SERVER_CPU), sys.executable, "-m", "status_board"]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit("the status board did not start")

    def admin(self) -> httpx.Client:
        """A client of the admin API."""
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.admin_port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )

    def rss_mb(self) -> float:
        """Resident memory of the process."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        """SIGTERM, then kill if it lingers."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Nginx:
    """Debian's nginx, one worker on the board's core, serving the board's export folder."""

    def __init__(self, work: Path, export_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        work.mkdir(parents=True, exist_ok=True)
        server = NGINX_CONF.read_text().replace("EXPORT_DIR", str(export_dir))
        server = server.replace("LISTEN", f"127.0.0.1:{self.port}")
        self.access_log = work / "access.log"
        (work / "nginx.conf").write_text(
            f"""worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;  # like uvicorn: a keep-alive connection is never recycled
    access_log {self.access_log};
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
{server}
}}
"""
        )
        cmd = [*pinned(SERVER_CPU), NGINX, "-p", str(work), "-c", str(work / "nginx.conf")]
        with (work / "stderr.log").open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/feed.atom")
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit(f"nginx did not start; see {work}/error.log")

    def stop(self) -> None:
        """SIGQUIT (graceful), then kill if it lingers."""
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")


def pinned(cpu: str) -> list[str]:
    """`taskset -c CPU` where taskset exists and the machine has that core, else nothing."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > int(cpu):
        return ["taskset", "-c", cpu]
    return []


def seed(board: Board, open_incidents: int = 3, maintenance: int = 2, closed: int = 40) -> int:
    """Realistic content: open incidents with updates, maintenance ahead, a closed history."""
    start = datetime.now(UTC) + timedelta(days=14)
    with board.admin() as admin:
        for i in range(open_incidents + closed):
            body = {"id": f"inc-{i}", "title": f"Incident {i}", "body": "Details. " * 40}
            admin.post("/admin/incidents", json=body).raise_for_status()
            for status in ("Identified", "Monitoring"):
                update = {"body": f"{status}: more details. " * 5, "status": status}
                admin.post(f"/admin/notices/inc-{i}/updates", json=update).raise_for_status()
            if i >= open_incidents:
                admin.post(f"/admin/notices/inc-{i}/resolve", json={}).raise_for_status()
        for i in range(maintenance):
            at = start + timedelta(days=i)
            window = {"starts_at": at.isoformat(), "ends_at": (at + timedelta(hours=2)).isoformat()}
            body = {"id": f"mnt-{i}", "title": f"Maintenance {i}", "body": "Planned."} | window
            admin.post("/admin/maintenance", json=body).raise_for_status()
    return open_incidents + closed + maintenance


def run_wrk(url: str, headers: dict[str, str], duration: int, connections: int) -> Result:
    """Drive one URL with wrk (one thread: the other core is the server's)."""
    cmd = [*pinned(LOAD_CPU), "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return Result("", url, requests, rps, _wrk_ms(out, "50%"), _wrk_ms(out, "99%"), errors)


def _wrk_ms(out: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _httpx_worker(args: tuple[str, dict[str, str], float, int]) -> tuple[list[float], int]:
    return asyncio.run(_httpx_load(*args))


async def _httpx_load(
    url: str, headers: dict[str, str], seconds: float, concurrency: int
) -> tuple[list[float], int]:
    """`concurrency` users, each with its own client (httpx's shared pool slows under load)."""
    deadline = time.perf_counter() + seconds
    parts = await asyncio.gather(*(_httpx_user(url, headers, deadline) for _ in range(concurrency)))
    return [t for lat, _ in parts for t in lat], sum(err for _, err in parts)


async def _httpx_user(
    url: str, headers: dict[str, str], deadline: float
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(headers=headers) as client:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            response = await client.get(url)
            latencies.append(time.perf_counter() - began)
            errors += response.status_code not in (200, 304)
    return latencies, errors


async def _raw_load(
    url: str, headers: dict[str, str], seconds: float, concurrency: int
) -> tuple[list[float], int]:
    """Keep-alive HTTP/1.1 over asyncio streams: far less client CPU per request than httpx."""
    deadline = time.perf_counter() + seconds
    parts = await asyncio.gather(*(_raw_user(url, headers, deadline) for _ in range(concurrency)))
    return [t for lat, _ in parts for t in lat], sum(err for _, err in parts)


async def _raw_user(url: str, headers: dict[str, str], deadline: float) -> tuple[list[float], int]:
    parsed = httpx.URL(url)
    lines = [f"GET {parsed.raw_path.decode()} HTTP/1.1", f"Host: {parsed.host}:{parsed.port}"]
    request = "\r\n".join([*lines, *(f"{k}: {v}" for k, v in headers.items()), "", ""]).encode()
    reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
    latencies: list[float] = []
    errors = 0
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: (\d+)", head)
        await reader.readexactly(int(length.group(1)) if length else 0)
        latencies.append(time.perf_counter() - began)
        errors += head[9:12] not in (b"200", b"304")
    writer.close()
    return latencies, errors


def _raw_worker(args: tuple[str, dict[str, str], float, int]) -> tuple[list[float], int]:
    return asyncio.run(_raw_load(*args))


def _pin_load() -> None:
    """A load worker runs on the load generator's core, off the servers' one."""
    if pinned(LOAD_CPU):
        os.sched_setaffinity(0, {int(LOAD_CPU)})


def run_raw(url: str, headers: dict[str, str], duration: int, connections: int) -> Result:
    """Drive one URL with the stdlib-asyncio client in one process per core."""
    return _pooled(_raw_worker, url, headers, duration, connections)


def run_httpx(url: str, headers: dict[str, str], duration: int, connections: int) -> Result:
    """Drive one URL with httpx clients in one process per core."""
    return _pooled(_httpx_worker, url, headers, duration, connections)


Driver = Callable[[str, dict[str, str], int, int], Result]
Worker = Callable[[tuple[str, dict[str, str], float, int]], tuple[list[float], int]]


def _pooled(
    worker: Worker, url: str, headers: dict[str, str], duration: int, connections: int
) -> Result:
    workers = 1 if pinned(LOAD_CPU) else max(1, (os.cpu_count() or 2) - 1)
    per_worker = max(1, connections // workers)
    jobs = [(url, headers, float(duration), per_worker)] * workers
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_pin_load) as pool:
        parts = pool.map(worker, jobs)
    latencies = sorted(t for lat, _ in parts for t in lat)
    errors = sum(err for _, err in parts)
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return Result("", url, len(latencies), len(latencies) / duration, p50, p99, errors)


def machine() -> list[str]:
    """What the figures were measured on."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- CPU: {os.cpu_count()} cores, {model}",
        f"- Memory: {mem_kb / 1024 / 1024:.1f} GiB; kernel {platform.release()}",
        f"- Python {platform.python_version()}, uvicorn with uvloop + httptools",
        f"- Load average before the run: {load} (the machine is shared with other work)",
    ]


Pair = tuple[Result, Result | None]  # the board's figures and nginx's on the same endpoint


def report(pairs: list[Pair], args: argparse.Namespace, notes: list[str]) -> str:
    """The Markdown report."""
    rows = []
    for board, nginx in pairs:
        versus = "n/a | n/a | n/a"
        if nginx is not None:
            versus = f"{nginx.rps:,.0f} | {nginx.p99_ms:.2f} | **{ratio(board, nginx):.0f} %**"
        rounds = " / ".join(f"{x:,.0f}" for x in board.rounds)
        if nginx is not None:
            rounds += " vs " + " / ".join(f"{x:,.0f}" for x in nginx.rounds)
        rows.append(
            f"| {board.name} | `{board.path}` | {board.rps:,.0f} | {board.p50_ms:.2f} |"
            f" {board.p99_ms:.2f} | {versus} | {board.errors} | {rounds} |"
        )
    return "\n".join(
        [
            "# Status board load, every upstream down, side by side with nginx",
            "",
            "How many requests per second the public status board serves (its page, banner,",
            "notices JSON and Atom feed) while every upstream is down (Kafka unreachable, no",
            "Mongo), with notices seeded through its admin API, and, in the same run, Debian's",
            "nginx serving the board's static export (the same bytes at the same URLs, with",
            "`deploy/status-board/nginx.conf`) on the same core. The required minimum for the",
            f"page is {PAGE_FLOOR:,.0f} req/s; the target is {RATIO_TARGET:.0f} % of nginx.",
            f"Reproduce with `{command(args)}`; it rewrites this file.",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `bench/status_board_load.py`.",
            "",
            "## Machine",
            "",
            *machine(),
            "",
            "## Command",
            "",
            f"    {command(args)}",
            "",
            "## Results",
            "",
            "Median round of each endpoint (by req/s); rounds alternate board and nginx; the",
            "last column lists every round (board vs nginx).",
            "",
            "| endpoint | path | board req/s | p50 ms | p99 ms | nginx req/s | nginx p99 ms |"
            " board / nginx | errors | rounds, req/s |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
            *rows,
            "",
            "## Set-up",
            "",
            *notes,
            "",
        ]
    )


def command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run."""
    line = f"uv run python bench/status_board_load.py --duration {args.duration} "
    line += f"--rounds {args.rounds} --connections {args.connections} --driver {args.driver}"
    return line + (f" --log-level {args.log_level}" if args.log_level != "INFO" else "")


def ratio(board: Result, nginx: Result) -> float:
    """The board's req/s as a percentage of nginx's."""
    return 100 * board.rps / nginx.rps if nginx.rps else 0.0


def main() -> None:
    """Run the benchmark and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per endpoint and server")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--driver", choices=["auto", "wrk", "raw", "httpx"], default="auto")
    parser.add_argument(
        "--log-level", default="INFO", help="the board's LOG_LEVEL (INFO: an access line each)"
    )
    parser.add_argument("--no-nginx", action="store_true", help="measure the board alone")
    parser.add_argument("--only", help="measure only the endpoints whose name contains this")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench" / "status-board.md")
    args = parser.parse_args()
    if args.driver == "auto":
        args.driver = "wrk" if shutil.which("wrk") else "raw"
    if not (NGINX or args.no_nginx):
        print(
            f"nginx is not installed: the board is measured alone. Install it with\n"
            f"    {INSTALL_NGINX}\nto measure the board against it (or pass --no-nginx).",
            file=sys.stderr,
        )
    with tempfile.TemporaryDirectory(prefix="status-board-bench-") as tmp:
        os.chmod(tmp, 0o755)  # nginx's workers (not root) read the export folder inside
        pairs, notes = _measure(Path(tmp), args)
    text = report(pairs, args, notes)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    page = pairs[0][0].rps
    if page < PAGE_FLOOR:
        sys.exit(f"page at {page:,.0f} req/s is under the floor of {PAGE_FLOOR:,.0f}")


def _measure(data_dir: Path, args: argparse.Namespace) -> tuple[list[Pair], list[str]]:
    board = Board(data_dir, args.log_level)
    nginx: Nginx | None = None
    try:
        count = seed(board)
        banner = httpx.get(f"{board.url}/api/banner").json()
        if not banner["stale"]:
            raise SystemExit("Kafka looks reachable; the benchmark needs every upstream down")
        _await_export(board)
        if NGINX and not args.no_nginx:
            nginx = Nginx(data_dir / "nginx", board.export_dir)
            _same_bytes(board.url, nginx.url)
        drive = {"wrk": run_wrk, "raw": run_raw, "httpx": run_httpx}[args.driver]
        for server in (board.url, *([nginx.url] if nginx else [])):
            drive(f"{server}/", {}, 2, args.connections)  # warm-up, not reported
        endpoints = [e for e in ENDPOINTS if not args.only or args.only in e[0]]
        pairs = [_one(board, nginx, drive, args, *endpoint) for endpoint in endpoints]
        notes = _notes(board, nginx, count, banner, args)
    finally:
        if nginx is not None:
            nginx.stop()
        board.stop()
    return pairs, notes


def _await_export(board: Board) -> None:
    """Wait until the export holds what the board serves (it is written off the loop)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            page = (board.export_dir / "notifications.html").read_bytes()
        except FileNotFoundError:
            page = b""
        if page == httpx.get(f"{board.url}/notifications").content:
            return
        time.sleep(0.2)
    raise SystemExit("the board's static export did not catch up")


def _same_bytes(board_url: str, nginx_url: str) -> None:
    """Every endpoint answers the same body from both servers (else the race is unfair)."""
    for name, path, _ in ENDPOINTS:
        ours, theirs = httpx.get(board_url + path), httpx.get(nginx_url + path)
        if (ours.status_code, ours.content) != (theirs.status_code, theirs.content):
            raise SystemExit(
                f"{name}: nginx does not serve the board's bytes at {path}: board"
                f" {ours.status_code} {len(ours.content)} B, nginx {theirs.status_code}"
                f" {len(theirs.content)} B {theirs.text[:200]!r}"
            )


def _one(
    board: Board,
    nginx: "Nginx | None",
    drive: Driver,
    args: argparse.Namespace,
    name: str,
    path: str,
    revalidate: bool,
) -> Pair:
    """The median rounds (by req/s), board and nginx alternating, so both see the same load."""
    servers = [("board", board.url), *([("nginx", nginx.url)] if nginx else [])]
    runs: dict[str, list[Result]] = {label: [] for label, _ in servers}
    headers = {
        label: {"If-None-Match": httpx.get(url + path).headers["etag"]} if revalidate else {}
        for label, url in servers
    }
    for _ in range(args.rounds):
        for label, url in servers:
            runs[label].append(drive(url + path, headers[label], args.duration, args.connections))
    medians = {}
    for label, results in runs.items():
        results.sort(key=lambda run: run.rps)
        result = results[len(results) // 2]
        result.name, result.path, result.server = name, path, label
        result.rounds = tuple(run.rps for run in results)
        medians[label] = result
    mine, theirs = medians["board"], medians.get("nginx")
    versus = f" vs nginx {theirs.rps:,.0f} ({ratio(mine, theirs):.0f} %)" if theirs else ""
    print(f"{name}: board {mine.rps:,.0f} req/s{versus}", file=sys.stderr)
    return mine, theirs


def _notes(
    board: Board,
    nginx: "Nginx | None",
    count: int,
    banner: dict[str, object],
    args: argparse.Namespace,
) -> list[str]:
    pinning = "taskset: both servers on core 0, the load generator on core 1"
    if not pinned(SERVER_CPU):
        pinning = "no taskset or a single core: nothing pinned"
    versus = (
        f"- nginx: `{NGINX}` ({_nginx_version()}), one worker, serving the board's export folder"
        " with `deploy/status-board/nginx.conf` (the board's headers added), access log on"
        " (one line per request, like the board's), keep-alive connections never recycled."
        if nginx
        else f"- nginx: not measured (not installed: `{INSTALL_NGINX}`)."
    )
    return [
        f"- Driver: `{args.driver}` over loopback, {args.connections} keep-alive connections,"
        f" {args.rounds} rounds of {args.duration} s per endpoint and server;"
        f" {DRIVERS[args.driver]}",
        f"- Pinning: {pinning}.",
        versus,
        f"- Board: one process (`python -m status_board`), LOG_LEVEL={args.log_level}"
        " (at INFO each request writes an access line), logs to a file.",
        f"- Kafka pointed at {DEAD_KAFKA} (nothing listens), Mongo at 127.0.0.1:1 (unused by"
        " the board); the banner reported `stale: true`, colour"
        f" `{banner['colour']}` throughout.",
        f"- {count} notices seeded through the admin API (3 open incidents with updates,"
        " 2 maintenance windows, 40 closed incidents).",
        f"- Server resident memory after the run: {board.rss_mb():.0f} MiB.",
        f"- Required minimum for the page: {PAGE_FLOOR:,.0f} req/s; target {RATIO_TARGET:.0f} %"
        " of nginx.",
    ]


def _nginx_version() -> str:
    done = subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=False)
    return (done.stderr or done.stdout).strip().removeprefix("nginx version: ")


if __name__ == "__main__":
    main()
