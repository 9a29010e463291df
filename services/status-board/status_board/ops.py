"""The board's metrics and its operations routes, without any Kafka or Mongo import."""

from collections.abc import Mapping

from fastapi import APIRouter
from prometheus_client import CollectorRegistry, Counter

from shared import ops
from shared.ops import Check


class BoardMetrics:
    """The board's Prometheus metrics, in the registry its /metrics serves."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.ingested = Counter(
            "status_board_ingested",
            "Notice events read from Kafka.",
            ["outcome"],
            registry=self.registry,
        )
        self.relayed = Counter(
            "status_board_relayed", "Outbox rows Kafka acknowledged.", registry=self.registry
        )
        self.refused = Counter(
            "status_board_relay_refused",
            "Outbox rows Kafka refused for good (dead-lettered, set aside).",
            registry=self.registry,
        )
        self.builds = Counter(
            "status_board_snapshot_builds", "Snapshot rebuilds.", registry=self.registry
        )


def ops_router(*, checks: Mapping[str, Check], registry: CollectorRegistry) -> APIRouter:
    """/healthz, /readyz and /metrics of shared.ops, documented with the board's metrics."""
    example = "status_board_relayed_total 12.0\n"
    return ops.ops_router(checks=checks, registry=registry, metrics_example=example)
