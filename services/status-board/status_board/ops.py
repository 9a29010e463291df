"""Health, readiness and metrics routes without any Kafka or Mongo import (the read path)."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

Check = Callable[[], Awaitable[bool]]


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


def _json(status: int, example: object, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"description": description, "content": {"application/json": {"example": example}}}
    }


_HEALTHY = _json(200, {"status": "ok"}, "Alive")
_READY = _json(200, {"status": "ready", "checks": {"store": True}}, "Ready") | _json(
    503, {"status": "not ready", "checks": {"store": False}}, "A check failed"
)
_METRICS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Metrics",
        "content": {
            CONTENT_TYPE_LATEST: {"example": "status_board_relayed_total 12.0\n"},
        },
    }
}


def ops_router(*, checks: Mapping[str, Check], registry: CollectorRegistry) -> APIRouter:
    """/healthz (alive), /readyz (the local store answers), /metrics."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive", responses=_HEALTHY)
    async def healthz() -> dict[str, str]:
        """Answers 200 while the process runs, whatever Kafka and the store do."""
        return {"status": "ok"}

    @router.get("/readyz", summary="The local store answers", responses=_READY)
    async def readyz() -> JSONResponse:
        """Answers 200 when every check (the local store reads) passes, else 503 naming it."""
        results = {name: await _outcome(check) for name, check in checks.items()}
        ready = all(results.values())
        body = {"status": "ready" if ready else "not ready", "checks": results}
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get(
        "/metrics", summary="Prometheus metrics", response_class=Response, responses=_METRICS
    )
    async def metrics() -> Response:
        """The board's Prometheus metrics in the text exposition format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


async def _outcome(check: Check, limit: float = 3.0) -> bool:
    try:
        return await asyncio.wait_for(check(), limit)
    except Exception:
        return False
