"""Health, readiness and metrics routes, free of Kafka, Mongo and server imports."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Check = Callable[[], Awaitable[bool]]
"""A readiness check: True when its dependency answers."""

Responses = dict[int | str, dict[str, Any]]

CHECK_LIMIT = 3.0
"""Seconds a check may take before it counts as failed (a hung dependency is not ready)."""

METRICS_EXAMPLE = 'http_requests_total{status="200"} 12.0\n'


def ops_router(
    *,
    checks: Mapping[str, Check],
    registry: CollectorRegistry,
    metrics_example: str = METRICS_EXAMPLE,
) -> APIRouter:
    """/healthz (alive), /readyz (every check passes), /metrics (the registry's metrics)."""
    router = APIRouter(tags=["operations"])
    names = ", ".join(checks) or "none"

    @router.get("/healthz", summary="The process is alive", responses=_HEALTHY)
    async def healthz() -> dict[str, str]:
        """Answers 200 while the process runs, whatever its dependencies do."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Every dependency answers",
        description=f"Answers 200 when every check ({names}) passes, else 503 naming the one "
        f"that failed; a check that takes over {CHECK_LIMIT:g} s fails.",
        responses=_ready_responses(list(checks)),
    )
    async def readyz() -> JSONResponse:
        results = await run_checks(checks)
        ready = all(results.values())
        body = {"status": "ready" if ready else "not ready", "checks": results}
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses=example_response(200, metrics_example, "Metrics", CONTENT_TYPE_LATEST),
    )
    async def metrics() -> Response:
        """This process's Prometheus metrics in the text exposition format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


async def run_checks(checks: Mapping[str, Check], limit: float = CHECK_LIMIT) -> dict[str, bool]:
    """Every check's outcome, run side by side; one that raises or overruns `limit` is False."""
    names = list(checks)
    outcomes = await asyncio.gather(*(_outcome(checks[name], limit) for name in names))
    return dict(zip(names, outcomes, strict=True))


async def _outcome(check: Check, limit: float) -> bool:
    try:
        return await asyncio.wait_for(check(), limit)
    except Exception:
        return False  # an unreachable dependency may fail in any way; it is simply not ready


def example_response(
    status: int, example: object, description: str, media_type: str = "application/json"
) -> Responses:
    """An OpenAPI `responses` entry: one status, its description and an example body."""
    return {status: {"description": description, "content": {media_type: {"example": example}}}}


_HEALTHY = example_response(200, {"status": "ok"}, "Alive")


def _ready_responses(names: list[str]) -> Responses:
    ready = dict.fromkeys(names, True)
    failed = ready | dict.fromkeys(names[-1:], False)
    return example_response(200, {"status": "ready", "checks": ready}, "Ready") | example_response(
        503, {"status": "not ready", "checks": failed}, "A check failed"
    )
