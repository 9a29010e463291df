"""API docs served by the process itself: Swagger UI and ReDoc from a package, AsyncAPI as HTML.

Nothing is loaded from a CDN, so the pages work on a machine without internet and under the
CSP of shared.http (no inline script: Swagger UI starts from a served file; the AsyncAPI page
is rendered here and needs no script at all).
"""

import html
import json
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.routing import BaseRoute, Route
from starlette.staticfiles import StaticFiles

ASSETS = "/docs/assets"
# Swagger UI, ReDoc and the favicon come from the fastapi-offline package; our own files
# (Swagger's start script, the AsyncAPI page's stylesheet) from shared/static.
ASSET_PACKAGES: list[str | tuple[str, str]] = [("fastapi_offline", "static"), ("shared", "static")]


def add_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc (at the app's own URLs) and their assets from this process.

    Replaces the CDN-based pages FastAPI set up, if any; an app without OpenAPI gets none.
    """
    docs_url, redoc_url = app.docs_url, app.redoc_url
    drop = {docs_url, redoc_url, app.swagger_ui_oauth2_redirect_url} - {None}
    app.router.routes[:] = [r for r in app.router.routes if not _is_route_at(r, drop)]
    if app.openapi_url is None or (docs_url is None and redoc_url is None):
        return
    app.mount(ASSETS, StaticFiles(packages=ASSET_PACKAGES), name="docs-assets")
    pages = ((docs_url, _swagger_body), (redoc_url, _redoc_body))
    for url, body in pages:
        if url is not None:
            app.add_route(url, _page(app.title, app.openapi_url, body), include_in_schema=False)


def _is_route_at(route: BaseRoute, paths: set[str | None]) -> bool:
    return isinstance(route, Route) and route.path in paths


def _page(title: str, openapi_url: str, body: Callable[[str, str, str], str]) -> Any:
    async def page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return HTMLResponse(body(title, root + openapi_url, root + ASSETS))

    return page


def _swagger_body(title: str, openapi_url: str, assets: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)} - Swagger UI</title>"
        f"<link rel='stylesheet' href='{assets}/swagger-ui.css'>"
        f"<link rel='icon' href='{assets}/favicon.png'></head><body>"
        f"<div id='swagger-ui' data-openapi-url='{html.escape(openapi_url, quote=True)}'></div>"
        f"<noscript><p>Swagger UI needs JavaScript; the document is at "
        f"<a href='{html.escape(openapi_url, quote=True)}'>{html.escape(openapi_url)}</a>."
        "</p></noscript>"
        f"<script src='{assets}/swagger-ui-bundle.js'></script>"
        f"<script src='{assets}/swagger-init.js'></script>"
        "</body></html>"
    )


def _redoc_body(title: str, openapi_url: str, assets: str) -> str:
    # ReDoc's standalone bundle renders every <redoc spec-url> element by itself.
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)} - ReDoc</title>"
        f"<link rel='icon' href='{assets}/favicon.png'></head><body>"
        f"<redoc spec-url='{html.escape(openapi_url, quote=True)}'></redoc>"
        f"<script src='{assets}/redoc.standalone.js'></script>"
        "</body></html>"
    )


def docs_description(summary: str, docs_urls: Mapping[str, str]) -> str:
    """An app's description: what it does, then a link to each service's API docs."""
    lines = "\n".join(f"- {name}: <{url}>" for name, url in docs_urls.items())
    return f"{summary}\n\nAPI docs of the services:\n\n{lines}"


# --- AsyncAPI, rendered on the server ------------------------------------------------------


def asyncapi_page(document: Mapping[str, Any], *, assets: str = ASSETS) -> str:
    """An AsyncAPI 3 document as one readable HTML page (no script, every text escaped)."""
    info = document.get("info", {})
    title = str(info.get("title", "AsyncAPI"))
    components = document.get("components", {})
    sections = [
        _intro(document, info),
        _servers(document.get("servers", {})),
        _operations(document.get("operations", {}), document.get("channels", {})),
        _channels(document.get("channels", {})),
        _messages(components.get("messages", {})),
        _schemas(components.get("schemas", {})),
    ]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)} - AsyncAPI</title>"
        f"<link rel='stylesheet' href='{assets}/docs.css'></head><body><main>"
        + "".join(sections)
        + "</main></body></html>"
    )


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _anchor(kind: str, key: str) -> str:
    return _e(f"{kind}-{key}")


def _ref_key(ref: object) -> str:
    """The last part of a `$ref` such as `#/components/messages/<key>`."""
    return str(ref).rsplit("/", 1)[-1] if ref else ""


def _intro(document: Mapping[str, Any], info: Mapping[str, Any]) -> str:
    description = info.get("description") or ""
    return (
        f"<h1>{_e(info.get('title', 'AsyncAPI'))}</h1>"
        f"<p class='muted'>version {_e(info.get('version', ''))} · AsyncAPI "
        f"{_e(document.get('asyncapi', ''))} · default content type "
        f"{_e(document.get('defaultContentType', ''))} · "
        "<a href='asyncapi.json'>the document as JSON</a></p>"
        + (f"<p>{_e(description)}</p>" if description else "")
    )


def _servers(servers: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td><code>{_e(server.get('host', ''))}</code></td>"
        f"<td>{_e(server.get('protocol', ''))}</td></tr>"
        for name, server in servers.items()
    )
    head = "<tr><th scope='col'>Server</th><th scope='col'>Host</th><th scope='col'>Protocol</th>"
    return f"<h2>Servers</h2><table><thead>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _operations(operations: Mapping[str, Any], channels: Mapping[str, Any]) -> str:
    rows = []
    for name, operation in operations.items():
        channel = _ref_key(operation.get("channel", {}).get("$ref"))
        address = channels.get(channel, {}).get("address", channel)
        verb = {"send": "publishes to", "receive": "consumes"}.get(operation.get("action"), "")
        summary = operation.get("summary") or operation.get("description") or ""
        rows.append(
            f"<tr><td><span class='action'>{_e(verb)}</span></td>"
            f"<td><a href='#{_anchor('channel', channel)}'>{_e(address)}</a></td>"
            f"<td>{_e(name)}</td><td>{_e(summary)}</td></tr>"
        )
    head = (
        "<tr><th scope='col'>Action</th><th scope='col'>Channel</th>"
        "<th scope='col'>Operation</th><th scope='col'>Summary</th>"
    )
    body = "".join(rows)
    return f"<h2>Operations</h2><table><thead>{head}</tr></thead><tbody>{body}</tbody></table>"


def _channels(channels: Mapping[str, Any]) -> str:
    parts = ["<h2>Channels</h2>"]
    for key, channel in channels.items():
        messages = "".join(
            f"<li><a href='#{_anchor('message', _ref_key(m.get('$ref')))}'>"
            f"{_e(_ref_key(m.get('$ref')))}</a></li>"
            for m in channel.get("messages", {}).values()
        )
        description = channel.get("description") or ""
        parts.append(
            f"<section id='{_anchor('channel', key)}'><h3><code>"
            f"{_e(channel.get('address', key))}</code></h3>"
            + (f"<p>{_e(description)}</p>" if description else "")
            + f"<p class='muted'>{_e(key)}</p><ul>{messages}</ul></section>"
        )
    return "".join(parts)


def _messages(messages: Mapping[str, Any]) -> str:
    parts = ["<h2>Messages</h2>"]
    for key, message in messages.items():
        payload = message.get("payload", {})
        schema = _ref_key(payload.get("$ref")) if "$ref" in payload else ""
        link = (
            f"<p>Payload: <a href='#{_anchor('schema', schema)}'>{_e(schema)}</a></p>"
            if schema
            else f"<pre>{_e(json.dumps(payload, indent=2))}</pre>"
        )
        parts.append(
            f"<section id='{_anchor('message', key)}'><h3>{_e(message.get('title', key))}</h3>"
            f"<p class='muted'>{_e(key)} · {_e(message.get('contentType', ''))}</p>{link}"
            "</section>"
        )
    return "".join(parts)


def _schemas(schemas: Mapping[str, Any]) -> str:
    parts = ["<h2>Schemas</h2>"]
    for key, schema in schemas.items():
        description = schema.get("description") or ""
        parts.append(
            f"<section id='{_anchor('schema', key)}'><h3>{_e(schema.get('title', key))}</h3>"
            + (f"<p>{_e(description)}</p>" if description else "")
            + f"<details><summary>JSON Schema</summary><pre>{_e(json.dumps(schema, indent=2))}"
            "</pre></details></section>"
        )
    return "".join(parts)
