"""The five application services: how to run them, their env and their readiness probe."""

from __future__ import annotations

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

    def port(self, ports: Ports) -> int:
        """The HTTP port the service listens on."""
        return int(ports.as_env()[self.port_env])

    def admin_port(self, ports: Ports) -> int | None:
        """The admin port, for services that have one."""
        return int(ports.as_env()[self.admin_port_env]) if self.admin_port_env else None


SERVICES: tuple[Service, ...] = (
    Service("intake", "intake", "INTAKE_PORT"),
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
    if service.module == "routing":
        # An injectable clock for end-to-end stories (auto-close after 10 business days).
        env["ROUTING_CLOCK_OFFSET_FILE"] = str(paths.run_dir() / "routing-clock-offset")
        env["ROUTING_TIMER_INTERVAL"] = "2"
    if service.module == "notify":
        # The local mail server answers by Message-ID: a mail in doubt after a crash is
        # looked up there instead of being sent twice.
        env["NOTIFY_RECEIPTS_URL"] = receipts_url(ports)
    return env


def receipts_url(ports: Ports) -> str:
    """The local mailbox's lookup by Message-ID, as notify's NOTIFY_RECEIPTS_URL."""
    return f"http://{HOST}:{ports.mailbox}/api/messages?message_id={{message_id}}&to={{recipient}}"


def argv(service: Service) -> list[str]:
    """Command line that runs ``service``."""
    return [python(), "-m", service.module]


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
    return http_ok(f"http://{HOST}:{service.port(ports)}/readyz", timeout)
