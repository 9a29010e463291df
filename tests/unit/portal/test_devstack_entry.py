"""`make up` runs the portal and the local identity provider, wired to each other."""

import json
from pathlib import Path

import pytest

from devstack import cli, services
from devstack.ports import Ports


@pytest.fixture
def ports(monkeypatch: pytest.MonkeyPatch) -> Ports:
    for name in ("PORTAL_PORT", "OIDC_PORT", "INTAKE_PORT", "FEED_PORT", "STATUS_BOARD_PORT"):
        monkeypatch.delenv(name, raising=False)
    return Ports.from_env()


def test_portal_points_at_intake_feed_board_and_provider(ports: Ports) -> None:
    """The portal's env names the stack's intake, feed, board and provider on loopback."""
    portal = next(s for s in services.SERVICES if s.name == "portal")
    env = services.service_env(portal, ports)
    assert env["PORTAL_PORT"] == "8000"
    assert env["PORTAL_INTAKE_URL"] == "http://127.0.0.1:8001"
    assert env["PORTAL_FEED_URL"] == "http://127.0.0.1:8003"
    assert env["PORTAL_STATUS_BOARD_URL"] == "http://127.0.0.1:8004"
    assert env["PORTAL_OIDC_ISSUER"] == "http://127.0.0.1:9400"


def test_the_board_writes_its_static_export_under_its_data_folder(ports: Ports) -> None:
    """`make up` runs the board with its export on, in the board's own data folder."""
    board = next(s for s in services.SERVICES if s.name == "status-board")
    env = services.service_env(board, ports)
    assert env["STATUS_BOARD_EXPORT_DIR"] == str(Path(env["STATUS_BOARD_DATA_DIR"]) / "export")


def test_provider_users_are_the_seed_contacts(ports: Ports) -> None:
    """The provider runs on 9400 with each seed contact as a user, the email as subject."""
    provider = next(s for s in services.SERVICES if s.name == "oidc")
    argv = services.argv(provider, ports)
    assert argv[1:3] == ["-m", "oidc_provider_mock"]
    assert argv[argv.index("--port") + 1] == "9400"
    users = [json.loads(argv[i + 1]) for i, a in enumerate(argv) if a == "--user-claims"]
    zack = next(u for u in users if u["sub"] == "zack.morris@bayside.example")
    assert zack == {
        "sub": "zack.morris@bayside.example",
        "email": "zack.morris@bayside.example",
        "name": "Zack Morris (TESTING)",
    }
    assert len(users) == 5


def test_status_lists_the_sign_in_page(ports: Ports) -> None:
    """`make status` lists the portal's sign-in page and the provider's discovery document."""
    urls = dict(cli.url_rows())
    assert urls["portal sign-in page"] == "http://127.0.0.1:8000/signin"
    assert urls["oidc discovery document"] == (
        "http://127.0.0.1:9400/.well-known/openid-configuration"
    )


def test_provider_health_url_is_its_discovery_document() -> None:
    """The provider (no /healthz) is checked at its discovery document, the portal at /healthz."""
    by_name = {s.name: s for s in services.SERVICES}
    assert by_name["oidc"].health_path == "/.well-known/openid-configuration"
    assert by_name["portal"].health_path == "/healthz"
