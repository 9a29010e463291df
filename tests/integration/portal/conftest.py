"""Real-stack fixtures for the portal: intake, routing, feed, OIDC provider, portal processes."""

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import devstack
from devstack.cleanup import forget_namespace

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / "deploy" / "seed" / "directory.json"
SIGNING_KEY = "integration-identity-key-" + uuid.uuid4().hex
ZACK = "zack.morris@bayside.example"  # Authorized Support, Bayside
SCREECH = "screech.powers@bayside.example"  # Read-Only, Bayside
SLATER = "ac.slater@bayside.example"  # Implementation, Bayside and Ridgemont
SPICOLI = "jeff.spicoli@ridgemont.example"  # Authorized Support, Ridgemont


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Site:
    """The running processes' URLs."""

    portal: str
    intake: str
    feed: str
    oidc: str
    namespace: str
    mailbox: str


def _provider_users() -> list[str]:
    """The seed's people as the provider's predefined users: sub and email are the address."""
    seed = json.loads(SEED.read_text(encoding="utf-8"))
    users = []
    for contact in seed["contacts"]:
        name = f"{contact['first_name']} {contact['last_name']}"
        claims = {"sub": contact["email"], "email": contact["email"], "name": name}
        users += ["--user-claims", json.dumps(claims)]
    return users


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        args, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO
    )


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, limit: float = 90) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url} exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} not ready:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="session")
def site(stack: devstack.StackSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """intake, routing, feed, the OIDC provider and the portal, each its own process on free ports,
    under a private topic namespace and databases, sharing one identity signing key."""
    logs = tmp_path_factory.mktemp("portal-logs")
    namespace = "p" + uuid.uuid4().hex[:8]
    ports = {name: free_port() for name in ("portal", "intake", "routing", "feed", "oidc")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "MONGO_URL": stack.mongo_url,
        "TOPIC_NAMESPACE": namespace,
        "IDENTITY_SIGNING_KEY": SIGNING_KEY,
        "LOG_FORMAT": "text",
        "STATUS_BOARD_URL": "http://127.0.0.1:8004",
    }
    specs = [
        (
            "oidc",
            [
                sys.executable,
                "-m",
                "oidc_provider_mock",
                "--port",
                str(ports["oidc"]),
                *_provider_users(),
            ],
            {},
            "/.well-known/openid-configuration",
        ),
        (
            "intake",
            [sys.executable, "-m", "intake"],
            {
                "INTAKE_PORT": str(ports["intake"]),
                "INTAKE_MONGO_DATABASE": f"intake_{namespace}",
                "INTAKE_SEED_FILE": str(SEED),
                "INTAKE_RATE_PER_SECOND": "1000",
                "INTAKE_RATE_BURST": "1000",
            },
            "/readyz",
        ),
        (
            "routing",
            [sys.executable, "-m", "routing"],
            {
                "ROUTING_PORT": str(ports["routing"]),
                "ROUTING_MONGO_DATABASE": f"routing_{namespace}",
            },
            "/readyz",
        ),
        (
            "feed",
            [sys.executable, "-m", "feed"],
            {"FEED_PORT": str(ports["feed"]), "FEED_MONGO_DATABASE": f"feed_{namespace}"},
            "/readyz",
        ),
        (
            "portal",
            [sys.executable, "-m", "portal"],
            {
                "PORTAL_PORT": str(ports["portal"]),
                "PORTAL_BASE_URL": urls["portal"],
                "PORTAL_INTAKE_URL": urls["intake"],
                "PORTAL_FEED_URL": urls["feed"],
                "PORTAL_OIDC_ISSUER": urls["oidc"],
                "PORTAL_READ_YOUR_WRITES_S": "10",
                "PORTAL_MONGO_DATABASE": f"portal_{namespace}",
            },
            "/readyz",
        ),
    ]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, args, env, ready in specs:
            log = logs / f"{name}.log"
            processes.append(_start(args, {**common, **env}, log))
            _wait_ready(urls[name] + ready, processes[-1], log)
        mailbox = stack.mailbox_url
        yield Site(urls["portal"], urls["intake"], urls["feed"], urls["oidc"], namespace, mailbox)
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
async def cleanup(stack: devstack.StackSettings, site: Site) -> AsyncIterator[None]:
    """Delete the namespace's topics and databases at the end of the session."""
    yield
    for database in (
        f"intake_{site.namespace}",
        f"feed_{site.namespace}",
        f"portal_{site.namespace}",
    ):
        await forget_namespace(stack.kafka_bootstrap, stack.mongo_url, site.namespace, database)


def sign_in(client: httpx.Client, site: Site, email: str, next_path: str = "/cases") -> None:
    """Sign in as a person through the real provider's form, as a browser without JS would."""
    start = client.get(f"{site.portal}/auth/start", params={"next": next_path})
    assert start.status_code == 303
    authorize = start.headers["location"]
    form = client.get(authorize)
    assert form.status_code == 200, form.text
    granted = client.post(authorize, data={"sub": email})
    assert granted.status_code in (302, 303), granted.text
    back = client.get(granted.headers["location"])
    assert back.status_code == 303, back.text
    assert back.headers["location"] == next_path
