"""Composition root of the status board: the public app, the admin app and Kafka ingest."""

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from shared.service import new_app, ops_router
from status_board.settings import Settings


def create_public_app(settings: Settings | None = None) -> FastAPI:
    """The public page, feed, JSON and banner; reads only the local store."""
    settings = settings or Settings()
    registry = CollectorRegistry()
    app = new_app("Status board", "Incident and maintenance notices.", None)

    async def store_readable() -> bool:
        return True

    app.include_router(ops_router(checks={"store": store_readable}, registry=registry))
    return app


def create_admin_app(settings: Settings | None = None) -> FastAPI:
    """The break-glass admin API on its own port."""
    settings = settings or Settings()
    registry = CollectorRegistry()
    app = new_app("Status board admin", "Break-glass incident publishing.", None)

    async def alive() -> bool:
        return True

    app.include_router(ops_router(checks={"store": alive}, registry=registry))
    return app
