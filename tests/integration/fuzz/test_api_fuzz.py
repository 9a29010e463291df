"""Property-based fuzzing of the four HTTP APIs with schemathesis: no 5xx, and every answer
as its OpenAPI documents it (status, media type, body schema, headers), each API called with
its own kind of token.

Each API gets one schemathesis CLI run (examples, coverage and fuzzing phases) against the
real processes: FUZZ_MAX_EXAMPLES cases per operation in the fuzzing phase, from the fixed
seed FUZZ_SEED (set either, or FUZZ_PHASES=examples,coverage,fuzzing,stateful, to explore
further; FUZZ_RUN_LIMIT bounds each run's seconds). Case counts go to the terminal summary
("API fuzz" section) and to each test's recorded properties.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.fuzz.services import Api, FuzzStack
from tests.integration.fuzz.tally import Tally, keep

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
SEED = int(os.environ.get("FUZZ_SEED", "1313"))
PHASES = os.environ.get("FUZZ_PHASES", "examples,coverage,fuzzing")
RUN_LIMIT_SECONDS = float(os.environ.get("FUZZ_RUN_LIMIT", "240"))
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    )
)
HOOKS = Path(__file__).with_name("hooks.py")
CLI = Path(sys.executable).with_name("schemathesis")


def command(api: Api, report: Path) -> list[str]:
    """The schemathesis CLI run of one API, bounded and reproducible."""
    return [
        str(CLI),
        "run",
        f"{api.url}/openapi.json",
        f"--checks={CHECKS}",
        f"--header=Authorization: Bearer {api.token}",
        f"--max-examples={MAX_EXAMPLES}",
        f"--seed={SEED}",
        f"--phases={PHASES}",
        "--generation-database=none",
        "--suppress-health-check=all",
        # One worker: the services under test share this machine's two cores.
        "--workers=1",
        "--request-timeout=30",
        "--report=json",
        f"--report-json-path={report}",
        "--no-color",
    ]


def fuzz(api: Api, tmp_path: Path, record_property: Any, request: pytest.FixtureRequest) -> None:
    """Run schemathesis against `api`; fail with its output on any failure or error."""
    report, statuses = tmp_path / f"{api.name}.json", tmp_path / f"{api.name}-statuses.json"
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "FUZZ_KNOWN_IDS": json.dumps(api.known),
        "FUZZ_STATUS_FILE": str(statuses),
    }
    tally = Tally()
    try:
        run = subprocess.run(
            command(api, report), env=env, capture_output=True, text=True, timeout=RUN_LIMIT_SECONDS
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        pytest.fail(f"schemathesis ran over {RUN_LIMIT_SECONDS:.0f} s:\n{output[-20_000:]}")
    found = json.loads(report.read_text()) if report.exists() else {}
    tally.generated = int(found.get("test_cases", {}).get("generated", 0))
    if statuses.exists():
        tally.statuses.update({int(k): v for k, v in json.loads(statuses.read_text()).items()})
    keep(request.config, api.name, tally)
    record_property("fuzz_cases", tally.generated)
    record_property("fuzz_statuses", json.dumps(dict(sorted(tally.statuses.items()))))
    warnings = {kind: ops for kind, ops in (found.get("warnings") or {}).items() if ops}
    record_property("fuzz_warnings", json.dumps(warnings))
    line = f"{tally.line(api.name)}; warnings: {warnings or 'none'}"
    request.node.add_report_section("call", "API fuzz", line)
    assert not found.get("failures"), _explain(run, found)
    assert not found.get("errors"), _explain(run, found)
    assert run.returncode == 0, _explain(run, found)
    assert tally.generated > 0, _explain(run, found)


def _explain(run: "subprocess.CompletedProcess[str]", found: dict[str, Any]) -> str:
    summary = json.dumps(
        {k: found.get(k) for k in ("test_cases", "failures", "errors", "stop_reason")}
    )
    output = f"{run.stdout[-20_000:]}\n{run.stderr[-3_000:]}"
    return f"schemathesis exit {run.returncode}: {summary}\n{output}"


def test_intake_api(
    fuzz_stack: FuzzStack, tmp_path: Path, record_property: Any, request: pytest.FixtureRequest
) -> None:
    """Intake, as an Authorized Support contact: no 5xx, every answer as documented."""
    fuzz(fuzz_stack.intake, tmp_path, record_property, request)


def test_routing_api(
    fuzz_stack: FuzzStack, tmp_path: Path, record_property: Any, request: pytest.FixtureRequest
) -> None:
    """Routing's staff API, as Campus Support staff: no 5xx, every answer as documented."""
    fuzz(fuzz_stack.routing, tmp_path, record_property, request)


def test_feed_api(
    fuzz_stack: FuzzStack, tmp_path: Path, record_property: Any, request: pytest.FixtureRequest
) -> None:
    """The feed, as an Authorized Support contact: no 5xx, every answer as documented."""
    fuzz(fuzz_stack.feed, tmp_path, record_property, request)


def test_status_board_admin_api(
    fuzz_stack: FuzzStack, tmp_path: Path, record_property: Any, request: pytest.FixtureRequest
) -> None:
    """The status board's admin API, with the admin token: no 5xx, every answer as documented."""
    fuzz(fuzz_stack.admin, tmp_path, record_property, request)
