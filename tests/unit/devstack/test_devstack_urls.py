"""`make status` (python -m devstack status) lists every URL: each API, its docs, the
board's admin port and its docs, the mailbox, Kafka and Mongo."""

import pytest

from devstack import cli, stack

# The design's default ports, written out by hand.
EXPECTED = {
    "http://127.0.0.1:8001",
    "http://127.0.0.1:8001/docs",
    "http://127.0.0.1:8001/asyncapi",
    "http://127.0.0.1:8002",
    "http://127.0.0.1:8002/docs",
    "http://127.0.0.1:8002/asyncapi",
    "http://127.0.0.1:8003",
    "http://127.0.0.1:8003/docs",
    "http://127.0.0.1:8003/asyncapi",
    "http://127.0.0.1:8005",
    "http://127.0.0.1:8005/docs",
    "http://127.0.0.1:8004",
    "http://127.0.0.1:8004/api/openapi.json",
    "http://127.0.0.1:8014",
    "http://127.0.0.1:8014/docs",
    "http://127.0.0.1:8025/",
    "127.0.0.1:1025",
    "127.0.0.1:9092",
}
PORT_VARIABLES = (
    "INTAKE_PORT",
    "ROUTING_PORT",
    "FEED_PORT",
    "NOTIFY_PORT",
    "STATUS_BOARD_PORT",
    "STATUS_BOARD_ADMIN_PORT",
    "MAILBOX_PORT",
    "SMTP_PORT",
    "KAFKA_PORT",
)


@pytest.fixture(autouse=True)
def default_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PORT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_status_lists_every_api_docs_page_and_the_admin_port(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The status command prints, below the parts, every URL a person opens."""
    monkeypatch.setattr(stack, "status", lambda: [])  # no probing: only the URL list
    assert cli.main(["status"]) == 0
    printed = capsys.readouterr().out
    urls = {line.split()[-1] for line in printed.split("URLs:")[1].splitlines() if line.strip()}
    assert urls >= EXPECTED


def test_admin_and_docs_are_labelled() -> None:
    """The admin port and each docs page say what they are."""
    labels = dict(cli.url_rows())
    assert labels["status-board admin API (break-glass)"] == "http://127.0.0.1:8014"
    assert labels["status-board admin docs (OpenAPI)"] == "http://127.0.0.1:8014/docs"
    assert labels["intake docs (OpenAPI)"] == "http://127.0.0.1:8001/docs"


def test_an_overridden_port_moves_its_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    """STATUS_BOARD_ADMIN_PORT moves the admin API and its docs."""
    monkeypatch.setenv("STATUS_BOARD_ADMIN_PORT", "18014")
    urls = {url for _, url in cli.url_rows()}
    assert {"http://127.0.0.1:18014", "http://127.0.0.1:18014/docs"} <= urls
