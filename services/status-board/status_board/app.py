"""Composition root: the board, the public app, the admin app and the background tasks.

The public app and everything it imports is free of Kafka and Mongo clients; Kafka code is
imported only inside the background tasks.
"""

import asyncio
import logging

from fastapi import FastAPI

from shared.docs import add_docs, docs_description
from shared.messages import utcnow
from status_board.api import (
    add_error_handlers,
    admin_router,
    one_operation_per_method,
    public_router,
)
from status_board.fastpath import FastPath
from status_board.ops import ops_router
from status_board.service import Board, Clock
from status_board.settings import Settings
from status_board.store import NoticeStore

log = logging.getLogger("status_board")


def create_board(settings: Settings | None = None, *, clock: Clock = utcnow) -> Board:
    """Open the local store and build the first snapshot from it (served at once)."""
    settings = settings or Settings()
    return Board(settings, NoticeStore(settings.db_path), clock=clock)


def create_public_app(settings: Settings | None = None, *, board: Board | None = None) -> FastAPI:
    """The public page, feed, JSON and banner; reads only the in-memory snapshot."""
    board = board or create_board(settings)
    app = FastAPI(
        title="Status board",
        description=docs_description(
            "Open and closed incident and maintenance notifications.", board.settings.docs_links
        ),
        version="1.0.0",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    one_operation_per_method(app)  # GET and HEAD share a route, each has its own operation id
    add_docs(app)  # its /api/docs from packaged files, not a CDN
    app.include_router(public_router(board))
    _add_ops(app, board)
    add_error_handlers(app, board, html_pages=True)
    app.add_middleware(FastPath, board=board)
    return app


def create_admin_app(settings: Settings | None = None, *, board: Board | None = None) -> FastAPI:
    """The break-glass admin API on its own port."""
    board = board or create_board(settings)
    app = FastAPI(
        title="Status board admin",
        description=docs_description(
            "Break-glass incident and maintenance publishing; works while Kafka is down.",
            board.settings.docs_links,
        ),
        version="1.0.0",
    )
    add_docs(app)  # its /docs from packaged files, not a CDN
    app.include_router(admin_router(board))
    _add_ops(app, board)
    add_error_handlers(app, board, html_pages=False)
    return app


def _add_ops(app: FastAPI, board: Board) -> None:
    async def store_readable() -> bool:
        return board.store.readable()

    app.include_router(
        ops_router(checks={"store": store_readable}, registry=board.metrics.registry)
    )


async def run_background(board: Board) -> None:
    """Kafka ingest, the outbox relay and the maintenance clock, until cancelled."""
    from status_board.ingest import run_ingest
    from status_board.relay import run_relay

    await asyncio.gather(run_ingest(board), run_relay(board), run_maintenance_clock(board))


async def run_maintenance_clock(board: Board) -> None:
    """Move maintenance to In Progress and Completed at its times."""
    while True:
        try:
            board.tick()
        except Exception:
            log.exception("maintenance clock failed; trying again")
        await asyncio.sleep(board.settings.maintenance_tick_s)
