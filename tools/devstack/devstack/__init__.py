"""Local development stack (Kafka, Mongo-wire server, SMTP sink, services) without Docker."""

from .errors import StackError
from .stack import (
    ALL_PARTS,
    INFRA_PARTS,
    SERVICE_PARTS,
    PartStatus,
    StackSettings,
    down,
    ensure,
    ensure_all,
    ensure_infra,
    settings,
    start_part,
    status,
    stop,
    stop_part,
    urls,
)

__all__ = [
    "ALL_PARTS",
    "INFRA_PARTS",
    "SERVICE_PARTS",
    "PartStatus",
    "StackError",
    "StackSettings",
    "down",
    "ensure",
    "ensure_all",
    "ensure_infra",
    "settings",
    "start_part",
    "status",
    "stop",
    "stop_part",
    "urls",
]
