"""Health, readiness and metrics routes without any Kafka or Mongo import (the read path)."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping

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


def ops_router(*, checks: Mapping[str, Check], registry: CollectorRegistry) -> APIRouter:
    """/healthz (alive), /readyz (the local store answers), /metrics."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="The local store answers", responses={503: {}})
    async def readyz() -> JSONResponse:
        results = {name: await _outcome(check) for name, check in checks.items()}
        ready = all(results.values())
        body = {"status": "ready" if ready else "not ready", "checks": results}
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


async def _outcome(check: Check, limit: float = 3.0) -> bool:
    try:
        return await asyncio.wait_for(check(), limit)
    except Exception:
        return False
