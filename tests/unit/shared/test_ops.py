"""The operations routes: /healthz, /readyz from plain async checks, /metrics, documented."""

import asyncio
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry, Counter

from shared import service
from shared.ops import Check, ops_router, run_checks


async def _passes() -> bool:
    return True


async def _fails() -> bool:
    return False


async def _raises() -> bool:
    raise ConnectionError("refused")


async def _hangs() -> bool:
    await asyncio.Event().wait()  # never set: a dependency that never answers
    return True


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("widgets_made", "Widgets made.", registry=registry).inc(3)
    return registry


async def _client(checks: Mapping[str, Check]) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(ops_router(checks=checks, registry=_registry()))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture
async def healthy() -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose two checks pass."""
    async with await _client({"kafka": _passes, "mongo": _passes}) as client:
        yield client


async def test_healthz_answers_ok(healthy: httpx.AsyncClient) -> None:
    """/healthz is 200 {"status": "ok"}."""
    response = await healthy.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_is_ready_when_every_check_passes(healthy: httpx.AsyncClient) -> None:
    """/readyz is 200 and lists each check as passed."""
    response = await healthy.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"kafka": True, "mongo": True}}


async def test_readyz_is_503_naming_the_checks_that_failed() -> None:
    """A check that answers False or raises makes /readyz 503 with that check false."""
    checks = {"kafka": _raises, "mongo": _fails, "store": _passes}
    async with await _client(checks) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "checks": {"kafka": False, "mongo": False, "store": True},
    }


async def test_a_check_that_never_answers_fails() -> None:
    """A hung check counts as failed once the limit passes; the others keep their outcome."""
    outcomes = await run_checks({"hung": _hangs, "mongo": _passes}, limit=0.05)
    assert outcomes == {"hung": False, "mongo": True}


async def test_metrics_serve_the_registry(healthy: httpx.AsyncClient) -> None:
    """/metrics is the registry in Prometheus text format."""
    response = await healthy.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "widgets_made_total 3.0" in response.text


async def _operations(client: httpx.AsyncClient) -> dict[str, Any]:
    spec = (await client.get("/openapi.json")).json()
    return {path: item["get"] for path, item in spec["paths"].items()}


def _example(operation: dict[str, Any], status: str) -> Any:
    [media] = operation["responses"][status]["content"].values()
    return media["example"]


async def test_each_route_is_described_with_examples(healthy: httpx.AsyncClient) -> None:
    """Every route has a description and an example; readiness names this app's checks."""
    operations = await _operations(healthy)
    assert sorted(operations) == ["/healthz", "/metrics", "/readyz"]
    assert all(op["description"].strip() for op in operations.values())
    assert _example(operations["/healthz"], "200") == {"status": "ok"}
    ready = operations["/readyz"]
    assert "kafka, mongo" in ready["description"]
    assert _example(ready, "200") == {"status": "ready", "checks": {"kafka": True, "mongo": True}}
    assert _example(ready, "503") == {
        "status": "not ready",
        "checks": {"kafka": True, "mongo": False},
    }
    assert re.fullmatch(r"\w+(\{.*\})? [0-9.]+\n", _example(operations["/metrics"], "200"))


async def test_service_router_without_a_spec_serves_the_same_routes() -> None:
    """shared.service.ops_router is these three routes (AsyncAPI is added only with a spec)."""
    app = FastAPI()
    app.include_router(service.ops_router(checks={"kafka": _fails}, registry=_registry()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert sorted(await _operations(client)) == ["/healthz", "/metrics", "/readyz"]
        assert (await client.get("/readyz")).json()["checks"] == {"kafka": False}


async def test_service_router_with_a_spec_serves_and_describes_asyncapi() -> None:
    """With a spec, /asyncapi.json and /asyncapi serve the broker's topics and are documented."""
    broker = KafkaBroker()

    @broker.subscriber("widget.events", group_id="ops-test")
    async def on_widget(body: dict[str, str]) -> None:
        del body

    spec = service.asyncapi_of(broker, title="Widgets")
    app = FastAPI()
    app.include_router(service.ops_router(checks={}, registry=_registry(), spec=lambda: spec))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        operations = await _operations(client)
        document = (await client.get("/asyncapi.json")).json()
        page = await client.get("/asyncapi")
    assert sorted(operations) == ["/asyncapi", "/asyncapi.json", "/healthz", "/metrics", "/readyz"]
    for path in ("/asyncapi", "/asyncapi.json"):
        assert operations[path]["description"].strip()
        assert _example(operations[path], "200")
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == "Widgets"
    assert [c["address"] for c in document["channels"].values()] == ["widget.events"]
    assert page.headers["content-type"].startswith("text/html")
    assert "widget.events" in page.text


def test_the_module_imports_no_broker_database_or_server() -> None:
    """Importing shared.ops loads no faststream, aiokafka, pymongo, bson or uvicorn."""
    script = """
import sys
import shared.ops
heavy = {"faststream", "aiokafka", "pymongo", "bson", "uvicorn"}
print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""
