"""make up's vendor identity provider part: the seed staff as users, the portal pointed at it."""

import json
import os

import pytest

from devstack import services
from devstack.ports import Ports


@pytest.fixture
def default_ports(monkeypatch: pytest.MonkeyPatch) -> Ports:
    """The ports of make up when no *_PORT variable moves them (a shifted stack sets some)."""
    for name in [n for n in os.environ if n.endswith("_PORT")]:
        monkeypatch.delenv(name)
    return Ports.from_env()


def test_the_vendor_provider_has_the_seed_staff_as_users(default_ports: Ports) -> None:
    """By default the part runs oidc-provider-mock on 9401 with Pat and Sky among its users."""
    part = next(s for s in services.SERVICES if s.name == "oidc-vendor")
    argv = services.argv(part, default_ports)
    assert argv[1:3] == ["-m", "oidc_provider_mock"]
    assert argv[argv.index("--port") + 1] == "9401"
    users = [json.loads(argv[i + 1]) for i, a in enumerate(argv) if a == "--user-claims"]
    emails = {u["email"] for u in users}
    assert {"pat.support@vendor.example", "sky.supervisor@vendor.example"} <= emails
    assert "zack.morris@bayside.example" not in emails


def test_the_portal_is_pointed_at_the_vendor_provider_and_routing(default_ports: Ports) -> None:
    """The portal's env names the vendor provider's issuer and routing's staff API."""
    env = services.portal_env(default_ports)
    assert env["PORTAL_STAFF_OIDC_ISSUER"] == "http://127.0.0.1:9401"
    assert env["PORTAL_ROUTING_URL"] == "http://127.0.0.1:8002"


def test_the_vendor_provider_starts_before_the_portal() -> None:
    """make up starts the parts in order: the provider is up when the portal reads it."""
    names = [s.name for s in services.SERVICES]
    assert names.index("oidc-vendor") < names.index("portal")
