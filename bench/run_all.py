"""Run every benchmark in turn (`make bench`); each writes its own results under docs/bench/.

Benchmarks need the local infra (`make up-infra`, or `make up` for the memory table) and take
minutes each on a 2-core machine; pass names to run a subset: `python bench/run_all.py feed`.
"""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SUITE = {
    "intake": "intake_load.py",
    "routing": "routing_load.py",
    "feed": "feed_load.py",
    "notify": "notify_load.py",
    "status-board": "status_board_load.py",
    "memory": "memory.py",
}


def main(names: list[str]) -> int:
    """Run the chosen benchmarks (all by default); the exit code is the number that failed."""
    failed = 0
    for name in names or list(SUITE):
        script = BENCH / SUITE[name]
        print(f"== {name}: {script.name}", flush=True)
        failed += subprocess.call([sys.executable, str(script)]) != 0
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
