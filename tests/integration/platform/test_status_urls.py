"""`make status` on the running stack: every web URL it lists answers, docs and admin included."""

import subprocess
import sys

import httpx

import devstack
from devstack import services


def listed_urls() -> dict[str, str]:
    """The URL section of `python -m devstack status`, label to URL."""
    done = subprocess.run(
        [sys.executable, "-m", "devstack", "status"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    section = done.stdout.split("\nURLs:\n")[1]
    rows = [line.strip().rsplit(None, 1) for line in section.splitlines() if line.strip()]
    return {label.strip(): url for label, url in rows}


def test_every_listed_web_url_answers(full_stack: devstack.StackSettings) -> None:
    """Each API, docs page, the board's admin API, the provider and the mailbox answer 200."""
    urls = listed_urls()
    assert urls["status-board admin docs (OpenAPI)"].endswith("/docs")
    web = {label: url for label, url in urls.items() if url.startswith("http")}
    health = {svc.name: svc.health_path for svc in services.SERVICES}
    answers = {}
    for label, url in web.items():
        # A bare base URL has no page: ask its part's own health URL (the provider has no /healthz).
        path = health.get(label.split()[0], "/healthz") if url.count("/") == 2 else ""
        answers[label] = httpx.get(url + path, timeout=10).status_code
    assert answers == dict.fromkeys(web, 200)
