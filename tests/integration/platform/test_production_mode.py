"""ENVIRONMENT=production: a real service process refuses to start on local defaults (item 4).

Before: every service started in production with the local Mongo URL built in.
"""

import os
import subprocess
import sys


def _start(service: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("MONGO_URL", "ENVIRONMENT")}
    return subprocess.run(
        [sys.executable, "-m", service],
        env=clean | {"ENVIRONMENT": "production", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"} | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_without_a_mongo_url_refuses_to_start() -> None:
    """No MONGO_URL: `python -m routing` exits at once, naming the variable and the fix.

    (Each service's settings against both refusals: tests/unit/shared/test_production_settings.)
    """
    done = _start("routing")
    assert done.returncode == 1
    assert "MONGO_URL is not set" in done.stderr
    assert "ENVIRONMENT=local" in done.stderr
    assert "Traceback" not in done.stderr
