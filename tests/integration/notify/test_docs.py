"""`python -m notify` serves its docs page, linking the docs NOTIFY_DOCS_URLS names."""

import json
from typing import Any

import httpx


async def test_the_running_process_serves_described_docs_with_the_configured_links(
    spawn: Any,
) -> None:
    """The process's OpenAPI links the docs named in NOTIFY_DOCS_URLS and describes /readyz;
    /docs answers with Swagger UI."""
    links = {"intake": "https://intake.district.example/docs"}
    notify = spawn(NOTIFY_DOCS_URLS=json.dumps(links))
    await notify.ready()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{notify.port}") as client:
        spec = (await client.get("/openapi.json")).raise_for_status().json()
        page = await client.get("/docs")
    assert "- intake: <https://intake.district.example/docs>" in spec["info"]["description"]
    assert "127.0.0.1:8002" not in spec["info"]["description"]
    readyz = spec["paths"]["/readyz"]["get"]
    assert readyz["description"].strip()
    assert readyz["responses"]["200"]["content"]["application/json"]["example"]["checks"] == {
        "kafka": True,
        "mongo": True,
    }
    assert page.status_code == 200
    assert "swagger-ui" in page.text
