"""Security headers and self-hosted docs on every real process (issue 13, item 11).

Before: no page sent CSP, X-Content-Type-Options, frame-ancestors or Referrer-Policy, and
/docs and /asyncapi loaded their scripts from public CDNs (blank pages offline).
"""

import re
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.integration.platform.conftest import Processes

SERVICES = ["intake", "routing", "feed", "notify"]
# (process, path) of every HTML page a person may open.
PAGES = [
    *[(name, path) for name in SERVICES for path in ("/docs", "/redoc", "/asyncapi")],
    ("status-board", "/"),
    ("status-board", "/notifications"),
    ("status-board-admin", "/docs"),
    ("status-board-admin", "/redoc"),
    ("mailbox", "/"),
    ("mailbox", "/docs"),
]
# Plus some answers that are not pages: the headers are on every response.
OTHERS = [(name, path) for name in SERVICES for path in ("/healthz", "/openapi.json", "/nowhere")]
OTHERS += [("status-board", "/api/notices"), ("mailbox", "/api/messages")]

# A resource the page loads: <script src>, <img src>, <link href> (stylesheet, icon).
RESOURCE = re.compile(r"<(?:script|img|link|iframe|source)\b[^>]*?\b(?:src|href)=['\"]([^'\"]+)")
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.DOTALL)


def _assert_security_headers(response: httpx.Response) -> None:
    csp = response.headers.get("content-security-policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives["default-src"] == ["'self'"], csp
    assert directives["script-src"] == ["'self'"], csp  # no 'unsafe-inline', no remote host
    assert directives["frame-ancestors"] == ["'none'"], csp
    assert directives["base-uri"] == ["'none'"], csp
    assert directives["form-action"] == ["'self'"], csp
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") == "no-referrer"
    assert response.headers.get("x-frame-options") == "DENY"


@pytest.mark.parametrize(("name", "path"), PAGES)
def test_every_page_sends_the_headers_and_loads_only_its_own_assets(
    processes: Processes, name: str, path: str
) -> None:
    """The page and each asset it references come from the process itself, with the headers."""
    base = processes.urls[name]
    page = httpx.get(base + path, timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    _assert_security_headers(page)
    resources = RESOURCE.findall(page.text)
    external = [url for url in resources if urlsplit(url).scheme or url.startswith("//")]
    assert external == []
    for attributes, code in SCRIPT.findall(page.text):
        assert "src=" in attributes, "an inline script would be blocked by the CSP"
        assert not code.strip(), "an inline script would be blocked by the CSP"
    for url in resources:
        asset = httpx.get(urljoin(base + path, url), timeout=10)
        assert asset.status_code == 200, url
        _assert_security_headers(asset)


@pytest.mark.parametrize(("name", "path"), OTHERS)
def test_every_other_answer_sends_the_headers(processes: Processes, name: str, path: str) -> None:
    """JSON, metrics and 404 answers carry the same headers as the pages."""
    response = httpx.get(processes.urls[name] + path, timeout=10)
    assert response.status_code in (200, 401, 404)
    _assert_security_headers(response)


@pytest.mark.parametrize("name", SERVICES)
def test_asyncapi_page_is_rendered_without_any_script(processes: Processes, name: str) -> None:
    """/asyncapi lists the service's topics in plain HTML, readable without JavaScript."""
    page = httpx.get(f"{processes.urls[name]}/asyncapi", timeout=10)
    assert "<script" not in page.text
    document = httpx.get(f"{processes.urls[name]}/asyncapi.json", timeout=10).json()
    for channel in document["channels"].values():
        assert f"<code>{channel['address']}</code>" in page.text
