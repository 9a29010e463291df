"""Both OpenAPI documents: every operation described, with examples that the board accepts."""

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from status_board.app import create_admin_app, create_board, create_public_app
from status_board.models import BannerPublic, NoticeList, NoticePublic
from status_board.settings import Settings
from tests.openapi_checks import DOCS_LINKS, Spec, missing, operations


@pytest.fixture
async def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Spec]]:
    """The public and admin OpenAPI documents of a board on local default settings."""
    for name in [n for n in os.environ if n.startswith("STATUS_BOARD_")]:
        monkeypatch.delenv(name)  # a stack on shifted ports sets them; the defaults are checked
    board = create_board(Settings(data_dir=tmp_path / "docs"))
    apps = {
        "public": (create_public_app(board=board), "/api/openapi.json"),
        "admin": (create_admin_app(board=board), "/openapi.json"),
    }
    found: dict[str, Spec] = {}
    for name, (app, url) in apps.items():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            found[name] = (await client.get(url)).raise_for_status().json()
    yield found
    board.store.close()


def test_every_operation_has_a_description_and_examples(specs: dict[str, Spec]) -> None:
    """Each operation of both apps has a description, a body example and a 2xx example."""
    assert {name: missing(spec) for name, spec in specs.items()} == {"public": [], "admin": []}


def test_the_check_finds_an_operation_without_examples(specs: dict[str, Spec]) -> None:
    """An operation stripped of its description and examples is reported three times."""
    operation = specs["admin"]["paths"]["/admin/incidents"]["post"]
    del operation["description"]
    for media in operation["requestBody"]["content"].values():
        media.pop("examples", None)
    for media in operation["responses"]["201"]["content"].values():
        media.pop("example", None)
    assert missing(specs["admin"]) == [
        "POST /admin/incidents: description",
        "POST /admin/incidents: request example",
        "POST /admin/incidents: 201 example",
    ]


def test_both_apps_document_every_operation_of_the_board(specs: dict[str, Spec]) -> None:
    """The documents list the public reads, the admin writes and reads, and operations."""
    public = {name for name, _ in operations(specs["public"])}
    admin = {name for name, _ in operations(specs["admin"])}
    reads = ["/notifications", "/notices/{notice_id}", "/feed.atom", "/api/banner"]
    reads += ["/api/notices", "/api/notices/{notice_id}"]
    ops = {"GET /healthz", "GET /readyz", "GET /metrics"}
    assert public == {f"{method} {path}" for path in reads for method in ("GET", "HEAD")} | ops
    assert admin == ops | {
        "POST /admin/incidents",
        "POST /admin/maintenance",
        "POST /admin/notices/{notice_id}/updates",
        "PATCH /admin/notices/{notice_id}",
        "POST /admin/notices/{notice_id}/resolve",
        "GET /admin/notices",
        "GET /admin/notices/{notice_id}",
        "GET /admin/outbox",
    }


def test_operation_ids_are_unique(specs: dict[str, Spec]) -> None:
    """Every operation has its own id (GET and HEAD of one public path included)."""
    for spec in specs.values():
        ids = [operation["operationId"] for _, operation in operations(spec)]
        assert len(ids) == len(set(ids)), sorted(ids)
    paths = specs["public"]["paths"]
    assert paths["/feed.atom"]["get"]["operationId"] != paths["/feed.atom"]["head"]["operationId"]


def test_each_docs_page_links_every_service_docs(specs: dict[str, Spec]) -> None:
    """Both descriptions link intake, routing, feed, the board and the board admin docs."""
    for spec in specs.values():
        assert all(link in spec["info"]["description"] for link in DOCS_LINKS)


def test_docs_links_follow_the_settings(tmp_path: Path) -> None:
    """STATUS_BOARD_DOCS_URLS, the public URL and the admin port change the links."""
    settings = Settings(
        data_dir=tmp_path,
        docs_urls={"intake": "https://intake.example/docs"},
        public_url="https://status.example",
        admin_port=9014,
    )
    board = create_board(settings)
    description = str(create_admin_app(board=board).description)
    board.store.close()
    assert "https://intake.example/docs" in description
    assert "https://status.example/api/docs" in description
    assert "http://127.0.0.1:9014/docs" in description
    assert "8001" not in description


async def test_docs_pages_are_served(public: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    """Swagger UI answers at /api/docs on the public port and /docs on the admin port."""
    for client, url in ((public, "/api/docs"), (admin, "/docs")):
        response = await client.get(url)
        assert response.status_code == 200
        assert "swagger-ui" in response.text


def _body_examples(spec: Spec, path: str, method: str) -> dict[str, Any]:
    operation = spec["paths"][path][method]
    examples: dict[str, Any] = operation["requestBody"]["content"]["application/json"]["examples"]
    return {name: example["value"] for name, example in examples.items()}


async def test_documented_creates_are_accepted(
    specs: dict[str, Spec], admin: httpx.AsyncClient
) -> None:
    """Every documented incident and maintenance body opens a notice (201)."""
    for path in ("/admin/incidents", "/admin/maintenance"):
        for name, body in _body_examples(specs["admin"], path, "post").items():
            response = await admin.post(path, json=body)
            assert response.status_code == 201, (path, name, response.text)


async def test_documented_changes_are_accepted(
    specs: dict[str, Spec], admin: httpx.AsyncClient
) -> None:
    """Every documented update, patch and resolve body changes a fresh open incident (200)."""
    changes = [
        ("/admin/notices/{notice_id}/updates", "post"),
        ("/admin/notices/{notice_id}", "patch"),
        ("/admin/notices/{notice_id}/resolve", "post"),
    ]
    for path, method in changes:
        for name, body in _body_examples(specs["admin"], path, method).items():
            created = await admin.post("/admin/incidents", json={"title": "Outage", "body": "x"})
            url = path.replace("{notice_id}", created.json()["id"])
            response = await admin.request(method, url, json=body)
            assert response.status_code == 200, (path, name, response.text)


def test_public_json_examples_have_the_served_shape(specs: dict[str, Spec]) -> None:
    """The banner, list and notice examples validate against the models the board serves."""
    paths = specs["public"]["paths"]
    models: dict[str, type[BaseModel]] = {
        "/api/banner": BannerPublic,
        "/api/notices": NoticeList,
        "/api/notices/{notice_id}": NoticePublic,
    }
    for path, model in models.items():
        example = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["example"]
        model.model_validate(example)
