"""Write each service's AsyncAPI document to a folder: `python -m devstack.asyncapi DIR`."""

import asyncio
import importlib
import json
import sys
from pathlib import Path

import httpx

SERVICES = ("intake", "routing", "feed", "notify")


async def document_of(package: str) -> dict[str, object] | None:
    """The AsyncAPI document a service serves at /asyncapi.json, without connecting to Kafka."""
    app = importlib.import_module(f"{package}.app").create_app()
    transport = httpx.ASGITransport(app=app)  # runs no lifespan: nothing connects
    async with httpx.AsyncClient(transport=transport, base_url="http://docs") as client:
        response = await client.get("/asyncapi.json")
    return response.json() if response.status_code == 200 else None


def main(folder: str) -> None:
    """Write `<folder>/<service>.json` for every service that publishes or consumes."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for package in SERVICES:
        document = asyncio.run(document_of(package))
        if document is not None:
            path = target / f"{package}.json"
            path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            sys.stdout.write(f"wrote {path}\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/asyncapi")
