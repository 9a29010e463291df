"""The URLs the local stack gives services for their answers and mail follow its ports."""

import pytest

from devstack.ports import Ports
from devstack.services import link_env

LINKS = ("FEED_PUBLIC_URL", "INTAKE_PORTAL_URL", "NOTIFY_PORTAL_URL")


def test_links_follow_overridden_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the feed on 18003 and the portal on 18000, the links name those ports."""
    for name in LINKS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FEED_PORT", "18003")
    monkeypatch.setenv("PORTAL_PORT", "18000")
    assert link_env(Ports.from_env()) == {
        "FEED_PUBLIC_URL": "http://127.0.0.1:18003",
        "INTAKE_PORTAL_URL": "http://127.0.0.1:18000",
        "NOTIFY_PORTAL_URL": "http://127.0.0.1:18000",
    }


def test_a_link_set_by_the_developer_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL already in the environment is not replaced."""
    for name in LINKS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NOTIFY_PORTAL_URL", "https://portal.example.org")
    assert "NOTIFY_PORTAL_URL" not in link_env(Ports.from_env())
