"""make up's vendor identity provider part: the seed staff as users, the portal pointed at it."""

import json

from devstack import services
from devstack.ports import Ports


def test_the_vendor_provider_has_the_seed_staff_as_users() -> None:
    """The part runs oidc-provider-mock on 9401 with Pat and Sky among its users."""
    part = next(s for s in services.SERVICES if s.name == "oidc-vendor")
    argv = services.argv(part, Ports.from_env())
    assert argv[1:3] == ["-m", "oidc_provider_mock"]
    assert argv[argv.index("--port") + 1] == "9401"
    users = [json.loads(argv[i + 1]) for i, a in enumerate(argv) if a == "--user-claims"]
    emails = {u["email"] for u in users}
    assert {"pat.support@vendor.example", "sky.supervisor@vendor.example"} <= emails
    assert "zack.morris@bayside.example" not in emails


def test_the_portal_is_pointed_at_the_vendor_provider_and_routing() -> None:
    """The portal's env names the vendor provider's issuer and routing's staff API."""
    env = services.portal_env(Ports.from_env())
    assert env["PORTAL_STAFF_OIDC_ISSUER"] == "http://127.0.0.1:9401"
    assert env["PORTAL_ROUTING_URL"] == "http://127.0.0.1:8002"


def test_the_vendor_provider_starts_before_the_portal() -> None:
    """make up starts the parts in order: the provider is up when the portal reads it."""
    names = [s.name for s in services.SERVICES]
    assert names.index("oidc-vendor") < names.index("portal")
