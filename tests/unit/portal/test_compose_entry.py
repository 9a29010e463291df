"""The portal in docker-compose.yml: its command, port, health check and production settings."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from portal.settings import Settings

from shared.settings import ProductionSettingsError, refuse_local_secrets

ROOT = Path(__file__).resolve().parents[3]
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::[?-]([^}]*))?\}")
SECRETS = {
    "MONGO_PASSWORD": "9f2c41d7e8b04a6f93c1d5e7a2b8c4f0",
    "PORTAL_OIDC_ISSUER": "https://login.district.example",
    "PORTAL_OIDC_CLIENT_ID": "support-portal-prod",
    "PORTAL_OIDC_CLIENT_SECRET": "0f3b9c2d7e5a4b1c8d6e2f0a9b7c5d3e",
    "PORTAL_STAFF_OIDC_ISSUER": "https://login.vendor.example",
    "PORTAL_STAFF_OIDC_CLIENT_ID": "support-portal-staff-prod",
    "PORTAL_STAFF_OIDC_CLIENT_SECRET": "5d7f9b1c3e5a7c9e1b3d5f7a9c1e3b5d",
    "PORTAL_SESSION_SECRET": "7a1c3e5b9d2f4a6c8e0b1d3f5a7c9e2b",
    "IDENTITY_SIGNING_KEY": "c4e6a8b0d2f4a6c8e0b2d4f6a8c0e2b4",
}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    found: dict[str, Any] = compose["services"]
    return found


def _environment(service: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    """The service's environment with `${VAR:-default}` resolved against `given`."""

    def one(match: re.Match[str]) -> str:
        return given.get(match.group(1), match.group(2) or "")

    return {k: VARIABLE.sub(one, str(v)) for k, v in service["environment"].items()}


def test_portal_service_runs_the_portal_on_8000(services: dict[str, Any]) -> None:
    """Compose runs `python -m portal` on 8000, checks /readyz, and points it at intake and feed."""
    portal = services["portal"]
    assert portal["command"] == ["python", "-m", "portal"]
    assert portal["ports"] == ["8000:8000"]
    assert "http://127.0.0.1:8000/readyz" in " ".join(portal["healthcheck"]["test"])
    env = portal["environment"]
    assert env["PORTAL_PORT"] == "8000"
    assert env["PORTAL_INTAKE_URL"] == "http://intake:8001"
    assert env["PORTAL_FEED_URL"] == "http://feed:8003"
    assert env["PORTAL_ROUTING_URL"] == "http://routing:8002"
    assert env["ENVIRONMENT"] == "production"


def test_services_verify_with_the_portal_key(services: dict[str, Any]) -> None:
    """intake and feed get the same IDENTITY_SIGNING_KEY the portal signs with."""
    for name in ("portal", "intake", "feed"):
        assert services[name]["environment"]["IDENTITY_SIGNING_KEY"] == (
            "${IDENTITY_SIGNING_KEY:-}"
        ), name


def test_portal_accepts_its_compose_settings(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the operator's secrets set, the compose environment passes the production check."""
    for key, value in _environment(services["portal"], SECRETS).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    refuse_local_secrets(settings, settings.required_secrets)
    assert settings.oidc_issuer == "https://login.district.example"
    assert settings.staff_oidc_issuer == "https://login.vendor.example"


@pytest.mark.parametrize("missing", sorted(set(SECRETS) - {"MONGO_PASSWORD"}))
def test_portal_refuses_to_start_without_each_secret(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    """Without one of them the portal refuses to start, naming the variable."""
    given = {k: v for k, v in SECRETS.items() if k != missing}
    for key, value in _environment(services["portal"], given).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    with pytest.raises(ProductionSettingsError, match=missing):
        refuse_local_secrets(settings, settings.required_secrets)
