"""Composition root of the portal: directory reader, HTTP clients, pages, static files."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.api import add_routes
from portal.handlers import CaseEventsReader, CaseSignals, DirectoryReader
from portal.mailer import Mailer
from portal.service import Api, CookieCodec, Oidc, Portal
from portal.settings import Settings
from portal.staff_api import build_staff, install_staff
from portal.staff_service import StaffDirectory
from portal.store import LinkStore
from shared.identity import IdentityKeys
from shared.mongo import Document, mongo_client, mongo_reachable
from shared.service import Check, new_app, ops_router, settle_heap

STATIC = Path(__file__).resolve().parent / "static"


# Nothing inline: scripts and styles only from the portal itself, forms only back to it.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class StrictPolicy:
    """Pure ASGI middleware: every page carries the portal's CSP (stricter than the shared one)."""

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self.app, self.policy = app, policy.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != b"content-security-policy"
                ]
                message = {
                    **message,
                    "headers": [*headers, (b"content-security-policy", self.policy)],
                }
            await send(message)

        return await self.app(scope, receive, with_policy)


def create_app(settings: Settings | None = None, portal: Portal | None = None) -> FastAPI:
    """Wire the portal (a given `portal` replaces the real clients, for tests); nothing
    connects until the lifespan starts."""
    settings = settings or Settings()
    http = httpx.AsyncClient(timeout=settings.api_timeout_s)
    reader: DirectoryReader | None = None
    events: CaseEventsReader | None = None
    mongo: AsyncMongoClient[Document] | None = None
    links: LinkStore | None = None
    if portal is None:
        mongo = mongo_client(settings)
        links = store = LinkStore(mongo[settings.mongo_database])
        directory = StaffDirectory()  # the contacts' view, and staff for the staff pages
        topic = settings.topics.directory
        reader = DirectoryReader(settings.kafka_bootstrap_servers, topic, directory)
        signals = CaseSignals()
        events = CaseEventsReader(
            settings.kafka_bootstrap_servers, settings.topics.case_events, signals
        )
        keys = IdentityKeys(settings.identity_signing_key.get_secret_value())
        portal = Portal(
            settings,
            directory,
            Oidc(settings, http),
            Api(settings, keys, http),
            CookieCodec(settings.session_secret.get_secret_value()),
            store,
            Mailer(settings),
            signals,
        )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if links is not None:
            await links.ensure_indexes()
        if events is not None:
            events.start()
        if reader is not None:
            await reader.start(settings.directory_ready_s)
        settle_heap()
        try:
            yield
        finally:
            if events is not None:
                await events.stop()
            if reader is not None:
                await reader.stop()
            await http.aclose()
            if mongo is not None:
                await mongo.close()

    app = new_app("Support Portal", "The web app district contacts use.", lifespan)
    app.state.portal = portal

    async def directory_read() -> bool:
        return reader is None or reader.ready.is_set()

    checks: dict[str, Check] = {"directory": directory_read}
    if mongo is not None:
        checks["mongo"] = lambda: mongo_reachable(mongo)
    app.include_router(ops_router(checks=checks, registry=CollectorRegistry()))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    add_routes(app, portal)
    if reader is not None:  # a portal given by a test mounts its own staff pages
        install_staff(app, build_staff(portal, http))
    app.add_middleware(StrictPolicy, policy=CSP)
    return app
