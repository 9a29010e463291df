"""Fixtures for the end-to-end stories: the whole running system, reached through public APIs."""

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

import devstack
from devstack.ports import Ports

SEED = Path(__file__).resolve().parents[2] / "deploy" / "seed" / "directory.json"
T = TypeVar("T")


def seed_token(token_id: str) -> str:
    """The fixed local-development token of a seeded person."""
    tokens = json.loads(SEED.read_text(encoding="utf-8"))["tokens"]
    return str(next(t["token"] for t in tokens if t["token_id"] == token_id))


class System:
    """Base URLs of the running system and an HTTP client per caller."""

    def __init__(self, settings: devstack.StackSettings, http: httpx.AsyncClient) -> None:
        urls = settings.service_urls
        self.intake, self.routing, self.feed = urls["intake"], urls["routing"], urls["feed"]
        self.board = urls["status-board"]
        admin_port = Ports.from_env().status_board_admin
        self.board_admin = self.board.rsplit(":", 1)[0] + f":{admin_port}"
        self.mailbox = settings.mailbox_url
        self.http = http

    def auth(self, token_id: str) -> dict[str, str]:
        """Authorization header for a seeded person."""
        return {"Authorization": f"Bearer {seed_token(token_id)}"}


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, within: float = 60.0
) -> T:
    """Poll `probe` until it returns something truthy; fail saying `what` never happened."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"within {within:.0f} s: {what}")
        await asyncio.sleep(0.5)


@pytest.fixture(scope="session")
async def system(full_stack: devstack.StackSettings) -> AsyncIterator[System]:
    """The system `make up` starts, with an HTTP client."""
    async with httpx.AsyncClient(timeout=30.0) as http:
        yield System(full_stack, http)


def json_of(response: httpx.Response, status: int) -> Any:
    """The JSON body, after checking the status code (showing the body when it differs)."""
    assert response.status_code == status, response.text
    return response.json()
