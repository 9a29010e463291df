"""Port settings (each overridable by env) and detection of who holds a port."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from .errors import StackError

DEFAULT_PORTS: dict[str, int] = {
    "KAFKA_PORT": 9092,
    "KAFKA_CONTROLLER_PORT": 9093,
    "MONGO_PORT": 27017,
    "SMTP_PORT": 1025,
    "MAILBOX_PORT": 8025,
    "INTAKE_PORT": 8001,
    "INTAKE_INBOUND_PORT": 8011,
    "INBOUND_SMTP_PORT": 2525,
    "ROUTING_PORT": 8002,
    "FEED_PORT": 8003,
    "STATUS_BOARD_PORT": 8004,
    "STATUS_BOARD_ADMIN_PORT": 8014,
    "NOTIFY_PORT": 8005,
    "PORTAL_PORT": 8000,
    "OIDC_PORT": 9400,
    "VENDOR_OIDC_PORT": 9401,
}

HOST = "127.0.0.1"


class PortConfigError(StackError):
    """An env var meant to hold a port number does not."""


def port(name: str) -> int:
    """Return the port configured by env var ``name`` (or its default)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return DEFAULT_PORTS[name]
    try:
        value = int(raw)
    except ValueError as exc:
        raise PortConfigError(f"{name}={raw!r} is not a port number") from exc
    if not 0 < value < 65536:
        raise PortConfigError(f"{name}={value} is outside 1..65535")
    return value


@dataclass(frozen=True)
class Ports:
    """Every port the stack uses."""

    kafka: int
    kafka_controller: int
    mongo: int
    smtp: int
    mailbox: int
    intake: int
    routing: int
    feed: int
    status_board: int
    status_board_admin: int
    notify: int
    portal: int = 8000
    oidc: int = 9400
    vendor_oidc: int = 9401
    intake_inbound: int = 8011
    inbound_smtp: int = 2525

    @classmethod
    def from_env(cls) -> Ports:
        """Read every port from env, falling back to the defaults."""
        return cls(
            kafka=port("KAFKA_PORT"),
            kafka_controller=port("KAFKA_CONTROLLER_PORT"),
            mongo=port("MONGO_PORT"),
            smtp=port("SMTP_PORT"),
            mailbox=port("MAILBOX_PORT"),
            intake=port("INTAKE_PORT"),
            routing=port("ROUTING_PORT"),
            feed=port("FEED_PORT"),
            status_board=port("STATUS_BOARD_PORT"),
            status_board_admin=port("STATUS_BOARD_ADMIN_PORT"),
            notify=port("NOTIFY_PORT"),
            portal=port("PORTAL_PORT"),
            oidc=port("OIDC_PORT"),
            vendor_oidc=port("VENDOR_OIDC_PORT"),
            intake_inbound=port("INTAKE_INBOUND_PORT"),
            inbound_smtp=port("INBOUND_SMTP_PORT"),
        )

    def as_env(self) -> dict[str, str]:
        """Return the ports as the env vars they were read from."""
        return {
            "KAFKA_PORT": str(self.kafka),
            "KAFKA_CONTROLLER_PORT": str(self.kafka_controller),
            "MONGO_PORT": str(self.mongo),
            "SMTP_PORT": str(self.smtp),
            "MAILBOX_PORT": str(self.mailbox),
            "INTAKE_PORT": str(self.intake),
            "ROUTING_PORT": str(self.routing),
            "FEED_PORT": str(self.feed),
            "STATUS_BOARD_PORT": str(self.status_board),
            "STATUS_BOARD_ADMIN_PORT": str(self.status_board_admin),
            "NOTIFY_PORT": str(self.notify),
            "PORTAL_PORT": str(self.portal),
            "OIDC_PORT": str(self.oidc),
            "VENDOR_OIDC_PORT": str(self.vendor_oidc),
            "INTAKE_INBOUND_PORT": str(self.intake_inbound),
            "INBOUND_SMTP_PORT": str(self.inbound_smtp),
        }


def _listening_inodes(port_number: int) -> set[str]:
    """Return the socket inodes listening on ``port_number`` (any address), from /proc."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != "0A":  # 0A = LISTEN
                continue
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port_number:
                inodes.add(fields[9])
    return inodes


def _pid_holding(inodes: set[str]) -> int | None:
    """Return a pid that has one of the socket ``inodes`` open, if visible."""
    targets = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                try:
                    if os.readlink(fd) in targets:
                        return int(proc.name)
                except OSError:
                    continue
        except OSError:
            continue
    return None


def process_name(pid: int) -> str:
    """Return the short command name of ``pid`` (or ``?``)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def port_open(port_number: int, host: str = HOST, timeout: float = 0.5) -> bool:
    """Return True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port_number), timeout=timeout):
            return True
    except OSError:
        return False


def port_holder(port_number: int) -> tuple[bool, int | None]:
    """Return (in_use, pid) for ``port_number``; pid is None when it cannot be seen."""
    inodes = _listening_inodes(port_number)
    if inodes:
        return True, _pid_holding(inodes)
    return port_open(port_number), None


def describe_port_conflict(port_number: int, env_name: str) -> str | None:
    """Return an error message if ``port_number`` is taken, else None."""
    in_use, pid = port_holder(port_number)
    if not in_use:
        return None
    who = f"PID {pid} ({process_name(pid)})" if pid is not None else "another process"
    return f"port {port_number} is in use by {who}: stop it or set {env_name}"
