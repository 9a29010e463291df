"""Schemathesis against intake's OpenAPI: no 5xx and no response-schema violations.

Starts `python -m intake` as a real process on the local stack (unique namespace and database,
free port, the seed directory; deleted at the end), then runs the schemathesis CLI as Zack
Morris (an authorized Bayside contact) with bounded examples per operation, and prints the
CLI's summary.

    uv run python bench/intake_schemathesis.py --max-examples 40
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

from intake_load import clean_up, wait_ready

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "local-dev-only-zack-morris-token"
CHECKS = "not_a_server_error,response_schema_conformance"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_intake(port: int, namespace: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TOPIC_NAMESPACE": namespace,
        "INTAKE_PORT": str(port),
        "INTAKE_MONGO_DATABASE": f"intake_{namespace}",
        "INTAKE_RATE_PER_SECOND": "100000",
        "INTAKE_RATE_BURST": "100000",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-m", "intake"], env=env, cwd=ROOT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    namespace = "st" + uuid4().hex[:8]
    intake = start_intake(port, namespace)
    try:
        wait_ready(url)
        argv = ["schemathesis", "run", f"{url}/openapi.json", "--checks", CHECKS]
        argv += ["-H", f"Authorization: Bearer {TOKEN}", "-n", str(args.max_examples)]
        argv += ["--seed", str(args.seed), "--phases", "examples,coverage,fuzzing"]
        # one worker: CPython 3.11 ast.parse is not thread-safe under hypothesis (a SystemError)
        argv += ["--workers", "1", "--request-timeout", "30"]
        return subprocess.run(argv, cwd=ROOT, timeout=900, check=False).returncode
    finally:
        intake.terminate()
        intake.wait(timeout=20)
        asyncio.run(clean_up(namespace))  # the shared broker slows with every partition left


if __name__ == "__main__":
    sys.exit(main())
