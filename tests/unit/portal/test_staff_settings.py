"""The staff workspace's settings: the vendor's provider and routing come from PORTAL_*."""

import httpx
import pytest
from portal.settings import Settings
from portal.staff_service import VendorOidcSettings, vendor_oidc


def test_the_vendor_provider_and_routing_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PORTAL_STAFF_OIDC_ISSUER and PORTAL_ROUTING_URL set where staff sign in and act."""
    monkeypatch.setenv("PORTAL_STAFF_OIDC_ISSUER", "https://login.vendor.example")
    monkeypatch.setenv("PORTAL_STAFF_OIDC_CLIENT_ID", "portal-staff")
    monkeypatch.setenv("PORTAL_ROUTING_URL", "http://routing.internal:8002")
    settings = Settings()
    assert settings.staff_oidc_issuer == "https://login.vendor.example"
    assert settings.routing_url == "http://routing.internal:8002"
    client = vendor_oidc(settings, httpx.AsyncClient())
    assert isinstance(client.settings, VendorOidcSettings)
    assert client.settings.oidc_issuer == "https://login.vendor.example"
    assert client.settings.oidc_client_id == "portal-staff"
    assert client.settings.redirect_uri == "http://127.0.0.1:8000/staff/auth/callback"
