"""The four HTTP APIs as real processes on the local stack (one namespace), for fuzzing.

Intake loads the seed directory and publishes it; routing and feed project it from Kafka,
so the seed's tokens work everywhere. The status board runs with its own admin token. A few
seed cases and notices give the fuzzer ids that exist; their values are handed to the
generated requests next to the fuzzer's own.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

import devstack
from devstack.cleanup import forget_namespace

CONTACT_TOKEN = "local-dev-only-zack-morris-token"  # Authorized Support, Bayside
STAFF_TOKEN = "local-dev-only-staff-support-token"  # Campus Support
READY_WITHIN = 120.0
SEED_FILE = Path(__file__).resolve().parents[3] / "deploy" / "seed" / "directory.json"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """One `python -m <package>` process with its port and log file."""

    package: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: "subprocess.Popen[bytes] | None" = None

    @property
    def url(self) -> str:
        """Base URL of its HTTP port."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Spawn it (waiting is separate, so the four start together)."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.package], env=self.env, stdout=log, stderr=log
        )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        """The end of its log, for a failure message."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Api:
    """One API under fuzzing: where it is, the token it takes, ids that exist in it."""

    name: str
    url: str
    token: str
    known: dict[str, list[str]] = field(default_factory=dict)

    def client(self) -> httpx.Client:
        """An authenticated client of the API."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@dataclass
class FuzzStack:
    """The four APIs of this run."""

    intake: Api
    routing: Api
    feed: Api
    admin: Api


def _envs(
    stack: devstack.StackSettings, namespace: str, data_dir: Path, admin_token: str
) -> dict[str, dict[str, str]]:
    common = {
        **os.environ,
        "ENVIRONMENT": "local",
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "MONGO_URL": stack.mongo_url,
        "TOPIC_NAMESPACE": namespace,
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "text",
    }
    return {
        "intake": {
            **common,
            "INTAKE_MONGO_DATABASE": f"intake_{namespace}",
            "INTAKE_SEED_FILE": str(SEED_FILE),
            "INTAKE_RATE_PER_SECOND": "100000",
            "INTAKE_RATE_BURST": "100000",
        },
        "routing": {**common, "ROUTING_MONGO_DATABASE": f"routing_{namespace}"},
        "feed": {**common, "FEED_MONGO_DATABASE": f"feed_{namespace}"},
        "status_board": {
            **common,
            "STATUS_BOARD_DATA_DIR": str(data_dir),
            "STATUS_BOARD_ADMIN_TOKEN": admin_token,
            "STATUS_BOARD_REPLICA_ID": f"fuzz-{namespace}",
        },
    }


def start_services(
    stack: devstack.StackSettings, namespace: str, tmp: Path, admin_token: str
) -> dict[str, Service]:
    """The four processes, configured and spawned (not yet waited for)."""
    envs = _envs(stack, namespace, tmp / "board", admin_token)
    ports = {"intake": "INTAKE_PORT", "routing": "ROUTING_PORT", "feed": "FEED_PORT"}
    services: dict[str, Service] = {}
    for package, env in envs.items():
        service = Service(package, env, tmp / f"{package}.log")
        env[ports.get(package, "STATUS_BOARD_PORT")] = str(service.port)
        services[package] = service
    board = services["status_board"]
    board.env["STATUS_BOARD_ADMIN_PORT"] = str(admin_port := free_port())
    board.env["STATUS_BOARD_PUBLIC_URL"] = board.url
    board.env["FUZZ_ADMIN_PORT"] = str(admin_port)
    for service in services.values():
        service.start()
    return services


def wait_until(check: Callable[[], bool], what: str, service: Service | None = None) -> None:
    """Poll `check` until it holds; fail with the service's log after READY_WITHIN seconds."""
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if service is not None and service.proc is not None and service.proc.poll() is not None:
            pytest.fail(f"{service.package} exited while waiting for {what}:\n{service.log_tail()}")
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    tail = service.log_tail() if service else ""
    pytest.fail(f"timed out waiting for {what}\n{tail}")


def _answers(api: Api, path: str, status: int) -> Callable[[], bool]:
    def check() -> bool:
        with api.client() as client:
            return client.get(path).status_code == status

    return check


def _submit_cases(intake: Api, count: int) -> list[dict[str, Any]]:
    body = {
        "case_type": "Ask a Question",
        "subject": "Fuzz seed: where is the calendar export?",
        "description": "A case the API fuzzer's requests can find.",
        "module": "Calendar (terms, periods, days)",
    }
    with intake.client() as client:
        answers = [client.post("/cases", json=body) for _ in range(count)]
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
    return [a.json() for a in answers]


def _open_notices(admin: Api) -> list[str]:
    bodies = [
        ("/admin/incidents", {"title": "Fuzz seed incident", "body": "Grade book is slow."}),
        (
            "/admin/maintenance",
            {
                "title": "Fuzz seed maintenance",
                "body": "Upgrade window.",
                "starts_at": "2030-01-05T02:00:00Z",
                "ends_at": "2030-01-05T04:00:00Z",
            },
        ),
    ]
    with admin.client() as client:
        answers = [client.post(path, json=body) for path, body in bodies]
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
    return [str(a.json()["id"]) for a in answers]


def wait_ready(services: dict[str, Service], apis: FuzzStack) -> None:
    """Every process answers and every API takes its token."""
    for name, service in services.items():
        wait_until(_answers(_api_of(apis, name), "/healthz", 200), f"{name} /healthz", service)
    wait_until(_answers(apis.intake, "/readyz", 200), "intake ready", services["intake"])
    # Each token works once the directory has reached that service (401 until then).
    ref = f"/cases/{uuid4()}"
    wait_until(_answers(apis.intake, f"{ref}/recipients", 404), "intake tokens")
    wait_until(_answers(apis.routing, ref, 404), "routing tokens", services["routing"])
    wait_until(_answers(apis.feed, "/cases", 200), "feed tokens", services["feed"])


def _api_of(apis: FuzzStack, package: str) -> Api:
    return apis.admin if package == "status_board" else getattr(apis, package)


def seed(apis: FuzzStack) -> None:
    """A few cases, an attachment, a command and notices, whose ids the fuzzer may use."""
    cases = _submit_cases(apis.intake, 3)
    ids = [str(c["case_id"]) for c in cases]
    numbers = [str(c["case_number"]) for c in cases]
    for case_id in ids:
        wait_until(_answers(apis.routing, f"/cases/{case_id}", 200), "a routed seed case")
        wait_until(_answers(apis.feed, f"/cases/{case_id}", 200), "a seed case in the feed")
    apis.intake.known = {"case_id": ids, "attachment_id": [_attach(apis.intake, ids[0])]}
    apis.routing.known = {
        "case_id": ids,
        "department_slug": ["campus-support", "hosting"],
        "command_id": [_assign(apis.routing, ids[1])],
    }
    apis.feed.known = {"case_ref": ids + numbers}
    apis.admin.known = {"notice_id": _open_notices(apis.admin)}


def _attach(intake: Api, case_id: str) -> str:
    files = {"files": ("notes.txt", b"steps to reproduce", "text/plain")}
    with intake.client() as client:
        answer = client.post(f"/cases/{case_id}/posts", data={"body": "<p>a file</p>"}, files=files)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["attachments"][0]["attachment_id"])


def _assign(routing: Api, case_id: str) -> str:
    with routing.client() as client:
        answer = client.post(f"/cases/{case_id}/assign", json={})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["command_id"])


async def forget(stack: devstack.StackSettings, namespace: str) -> None:
    """Delete the run's topics and its three databases."""
    for database in ("intake", "routing", "feed"):
        await forget_namespace(
            stack.kafka_bootstrap, stack.mongo_url, namespace, f"{database}_{namespace}"
        )
