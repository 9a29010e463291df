"""Resident memory of each running service at idle: `uv run python bench/memory.py [--out FILE]`.

Reads VmRSS of every service process the local stack started (`make up` first). Prints a
Markdown table; with --out, writes it to that file as well.
"""

import argparse
import sys
import time
from pathlib import Path

import devstack

TARGET_MB = 120.0


def rss_mb(pid: int) -> float:
    """Resident set size of a process and its children, in MiB."""
    total_kb = 0
    for candidate in [pid, *_children(pid)]:
        status = Path(f"/proc/{candidate}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def service_pids() -> dict[str, int]:
    """Pid of every running service of the local stack, by name."""
    pids = {p.name: int(p.pid) for p in devstack.status() if p.kind == "service" and p.pid}
    if not pids:
        sys.exit("no service is running: start them with `make up`")
    return pids


def table(samples: int, interval: float) -> str:
    """Median RSS over a few samples for every running service."""
    pids = service_pids()
    readings: dict[str, list[float]] = {name: [] for name in pids}
    for _ in range(samples):
        for name, pid in pids.items():
            readings[name].append(rss_mb(pid))
        time.sleep(interval)
    lines = [
        "# Resident memory at idle",
        "",
        "Resident memory (VmRSS of each service process and its children) of every service",
        f"of the local stack at idle, the median of {samples} samples {interval:g} s apart,",
        "against the target (where the design aims on this machine class) of at most 120 MB",
        "each. Reproduce after `make up` with `uv run python bench/memory.py --out <file>`.",
        "",
        "| service | RSS at idle (MiB, median) | target |",
        "| --- | ---: | ---: |",
    ]
    for name, values in readings.items():
        median = sorted(values)[len(values) // 2]
        verdict = "met" if median <= TARGET_MB else "missed"
        lines.append(f"| {name} | {median:.1f} | ≤ {TARGET_MB:.0f} ({verdict}) |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Sample, print, and optionally write the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = table(args.samples, args.interval)
    print(result)
    if args.out:
        args.out.write_text(result, encoding="utf-8")


if __name__ == "__main__":
    main()
