"""The application services, the portal and the local identity provider: how to run them,
their env and their readiness probe."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .mongo import mongo_url
from .ports import HOST, Ports

# (link name, path): the pages a person opens, beside the API's base URL.
Pages = tuple[tuple[str, str], ...]
API_DOCS: Pages = (("docs", "/docs"), ("asyncapi", "/asyncapi"))


@dataclass(frozen=True)
class Service:
    """One service started as ``python -m <module>``."""

    name: str
    module: str
    port_env: str
    admin_port_env: str | None = None
    pages: Pages = API_DOCS
    admin_pages: Pages = ()
    ready_path: str = "/readyz"
    # What answers 200 while the process is alive (`make status` lists the bare base URL).
    health_path: str = "/healthz"
    args: tuple[str, ...] = ()
    # Ports it listens on besides HTTP, by env name (shown by `make status`, checked at start).
    extra_ports: tuple[str, ...] = ()

    def port(self, ports: Ports) -> int:
        """The HTTP port the service listens on."""
        return int(ports.as_env()[self.port_env])

    def admin_port(self, ports: Ports) -> int | None:
        """The admin port, for services that have one."""
        return int(ports.as_env()[self.admin_port_env]) if self.admin_port_env else None


SERVICES: tuple[Service, ...] = (
    Service("intake", "intake", "INTAKE_PORT"),
    # Replies by email: intake's SMTP listener, its own process (HTTP only for probes).
    Service(
        "intake-inbound",
        "intake",
        "INTAKE_INBOUND_PORT",
        pages=(("metrics", "/metrics"),),
        args=("inbound",),
        extra_ports=("INBOUND_SMTP_PORT",),
    ),
    Service("routing", "routing", "ROUTING_PORT"),
    Service("feed", "feed", "FEED_PORT"),
    Service("notify", "notify", "NOTIFY_PORT"),
    Service(
        "status-board",
        "status_board",
        "STATUS_BOARD_PORT",
        "STATUS_BOARD_ADMIN_PORT",
        # The public board has no Swagger page, only its OpenAPI document; the admin API has one.
        pages=(("openapi", "/api/openapi.json"), ("atom", "/feed.atom")),
        admin_pages=(("admin-docs", "/docs"),),
    ),
    # The districts' identity provider, locally: a real OpenID Connect provider process whose
    # users are the seed directory's contacts (sign in by choosing one, or by typing an email).
    Service(
        "oidc",
        "oidc_provider_mock",
        "OIDC_PORT",
        pages=(("discovery", "/.well-known/openid-configuration"),),
        ready_path="/.well-known/openid-configuration",
        # The provider has no /healthz: its discovery document is what answers.
        health_path="/.well-known/openid-configuration",
    ),
    # The vendor's identity provider, locally: a second provider whose users are the seed
    # staff (the portal's /staff pages sign in there).
    Service(
        "oidc-vendor",
        "oidc_provider_mock",
        "VENDOR_OIDC_PORT",
        pages=(("discovery", "/.well-known/openid-configuration"),),
        ready_path="/.well-known/openid-configuration",
        health_path="/.well-known/openid-configuration",
    ),
    Service("portal", "portal", "PORTAL_PORT", pages=(("sign-in", "/signin"),)),
)


def python() -> str:
    """The repo venv's interpreter (falls back to the running one)."""
    candidate = paths.repo_root() / ".venv" / "bin" / "python"
    return str(candidate) if candidate.is_file() else sys.executable


def client_env(ports: Ports) -> dict[str, str]:
    """Client settings every service reads (KAFKA_BOOTSTRAP_SERVERS, MONGO_URL, SMTP_*)."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": f"{HOST}:{ports.kafka}",
        "MONGO_URL": mongo_url(ports),
        "SMTP_HOST": HOST,
        "SMTP_PORT": str(ports.smtp),
        "MAILBOX_URL": f"http://{HOST}:{ports.mailbox}",
    }


def service_env(service: Service, ports: Ports) -> dict[str, str]:
    """Env vars for one service: every port, the client settings and its data folder."""
    env = {**ports.as_env(), **client_env(ports)}
    env[service.module.upper() + "_DATA_DIR"] = str(paths.data_dir(service.name))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(link_env(ports))
    if service.module == "routing":
        # An injectable clock for end-to-end stories (auto-close after 10 business days).
        env["ROUTING_CLOCK_OFFSET_FILE"] = str(paths.run_dir() / "routing-clock-offset")
        env["ROUTING_TIMER_INTERVAL"] = "2"
    if service.module == "portal":
        env.update(portal_env(ports))
    if service.module == "status_board" and "STATUS_BOARD_EXPORT_DIR" not in os.environ:
        # The static export, as a deployment would hand it to a static host or CDN.
        env["STATUS_BOARD_EXPORT_DIR"] = str(paths.data_dir(service.name) / "export")
    if service.module == "notify":
        # The local mail server answers by Message-ID: a mail in doubt after a crash is
        # looked up there instead of being sent twice.
        env["NOTIFY_RECEIPTS_URL"] = receipts_url(ports)
    return env


def link_env(ports: Ports) -> dict[str, str]:
    """The URLs services put in answers and mail, following the ports unless set already."""
    portal = f"http://{HOST}:{ports.portal}"
    links = {
        "FEED_PUBLIC_URL": f"http://{HOST}:{ports.feed}",
        "INTAKE_PORTAL_URL": portal,
        "NOTIFY_PORTAL_URL": portal,
    }
    return {name: url for name, url in links.items() if name not in os.environ}


def portal_env(ports: Ports) -> dict[str, str]:
    """Where the portal finds intake, feed, the board and the local identity provider."""
    return {
        "PORTAL_BASE_URL": f"http://{HOST}:{ports.portal}",
        "PORTAL_INTAKE_URL": f"http://{HOST}:{ports.intake}",
        "PORTAL_FEED_URL": f"http://{HOST}:{ports.feed}",
        "PORTAL_STATUS_BOARD_URL": f"http://{HOST}:{ports.status_board}",
        "PORTAL_STATUS_BOARD_ADMIN_URL": f"http://{HOST}:{ports.status_board_admin}",
        "PORTAL_OIDC_ISSUER": f"http://{HOST}:{ports.oidc}",
        "PORTAL_STAFF_OIDC_ISSUER": f"http://{HOST}:{ports.vendor_oidc}",
        "PORTAL_ROUTING_URL": f"http://{HOST}:{ports.routing}",
    }


def oidc_arguments(ports: Ports) -> list[str]:
    """The provider's port and its users: each seed contact, with the email as subject."""
    seed = paths.repo_root() / "deploy" / "seed" / "directory.json"
    contacts = json.loads(seed.read_text(encoding="utf-8")).get("contacts", [])
    users: list[str] = []
    for contact in contacts:
        name = f"{contact['first_name']} {contact['last_name']}"
        claims = {"sub": contact["email"], "email": contact["email"], "name": name}
        users += ["--user-claims", json.dumps(claims)]
    return ["--host", HOST, "--port", str(ports.oidc), *users]


def vendor_oidc_arguments(ports: Ports) -> list[str]:
    """The vendor provider's port and its users: each seed staff member, email as subject."""
    seed = paths.repo_root() / "deploy" / "seed" / "directory.json"
    staff = json.loads(seed.read_text(encoding="utf-8")).get("staff", [])
    users: list[str] = []
    for member in staff:
        claims = {"sub": member["email"], "email": member["email"], "name": member["name"]}
        users += ["--user-claims", json.dumps(claims)]
    return ["--host", HOST, "--port", str(ports.vendor_oidc), *users]


def receipts_url(ports: Ports) -> str:
    """The local mailbox's lookup by Message-ID, as notify's NOTIFY_RECEIPTS_URL."""
    return f"http://{HOST}:{ports.mailbox}/api/messages?message_id={{message_id}}&to={{recipient}}"


def argv(service: Service, ports: Ports | None = None) -> list[str]:
    """Command line that runs ``service``."""
    extra = oidc_arguments(ports or Ports.from_env()) if service.name == "oidc" else []
    if service.name == "oidc-vendor":
        extra = vendor_oidc_arguments(ports or Ports.from_env())
    return [python(), "-m", service.module, *service.args, *extra]


def cwd() -> Path:
    """Working directory of every service."""
    return paths.repo_root()


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Return True if GET ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def ready(service: Service, ports: Ports, timeout: float = 2.0) -> bool:
    """Readiness probe: ``GET /readyz`` answers 200."""
    return http_ok(f"http://{HOST}:{service.port(ports)}{service.ready_path}", timeout)
