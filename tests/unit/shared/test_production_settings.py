"""Production mode refuses missing, short and well-known local secrets, naming the setting."""

import pytest
from pydantic import AliasChoices, Field, SecretStr

from feed.settings import Settings as FeedSettings
from notify.settings import Settings as NotifySettings
from routing.settings import Settings as RoutingSettings
from shared.service import serve
from shared.settings import ProductionSettingsError, ServiceSettings, refuse_local_secrets


class _Settings(ServiceSettings):
    admin_token: SecretStr = Field(
        SecretStr("local-dev-only-admin-token"),
        validation_alias=AliasChoices("EXAMPLE_ADMIN_TOKEN", "admin_token"),
    )


NAMES = ("admin_token", "mongo_url")
GOOD = {"EXAMPLE_ADMIN_TOKEN": "f3J9-kq2Lx81-pQzW7", "MONGO_URL": "mongodb://db1,db2/?replicaSet=x"}


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> _Settings:
    for name in ("ENVIRONMENT", *GOOD):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return _Settings()


def _refusal(settings: _Settings) -> str:
    with pytest.raises(ProductionSettingsError) as caught:
        refuse_local_secrets(settings, NAMES)
    return str(caught.value)


def test_local_mode_accepts_the_local_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """ENVIRONMENT=local (the default) starts with every built-in value."""
    refuse_local_secrets(_settings(monkeypatch), NAMES)


def test_production_refuses_defaults_naming_each_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production with nothing set names both variables and says how to fix it."""
    message = _refusal(_settings(monkeypatch, ENVIRONMENT="production"))
    assert "EXAMPLE_ADMIN_TOKEN is not set" in message
    assert "MONGO_URL is not set" in message
    assert "ENVIRONMENT=local" in message


@pytest.mark.parametrize(
    "token",
    ["local-dev-only-zack-morris-token", "local-status-admin-token", "", "   ", "short-token"],
)
def test_production_refuses_a_local_empty_or_short_token(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    """Seed tokens, the board's old default, blank and short tokens are all refused."""
    env = {**GOOD, "ENVIRONMENT": "production", "EXAMPLE_ADMIN_TOKEN": token}
    message = _refusal(_settings(monkeypatch, **env))
    assert "EXAMPLE_ADMIN_TOKEN" in message
    assert "MONGO_URL" not in message
    assert token.strip() == "" or token not in message  # the secret itself is never echoed


def test_production_refuses_the_local_mongo_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local stack's Mongo URL, set explicitly, still counts as a local value."""
    local = "mongodb://127.0.0.1:27017/?directConnection=true&retryWrites=false"
    env = {**GOOD, "ENVIRONMENT": "production", "MONGO_URL": local}
    assert "MONGO_URL holds a well-known local value" in _refusal(_settings(monkeypatch, **env))


def test_production_accepts_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deployment secrets pass."""
    refuse_local_secrets(_settings(monkeypatch, ENVIRONMENT="production", **GOOD), NAMES)


SERVICES = [RoutingSettings, FeedSettings, NotifySettings]
LOCAL_MONGO = "mongodb://127.0.0.1:27017/?directConnection=true&retryWrites=false"


@pytest.mark.parametrize("settings_class", SERVICES)
@pytest.mark.parametrize(
    ("mongo_url", "reason"),
    [(None, "MONGO_URL is not set"), (LOCAL_MONGO, "MONGO_URL holds a well-known local value")],
)
def test_services_refuse_to_serve_in_production_on_local_mongo(
    monkeypatch: pytest.MonkeyPatch,
    settings_class: type[ServiceSettings],
    mongo_url: str | None,
    reason: str,
) -> None:
    """serve(), which routing, feed and notify start through, exits before listening."""
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("MAIL_REPLY_KEY", "9c4e1a7f3b5d8e2c6a0f4b7d")  # notify's other secret, set
    monkeypatch.delenv("MONGO_URL", raising=False)
    if mongo_url is not None:
        monkeypatch.setenv("MONGO_URL", mongo_url)
    with pytest.raises(SystemExit) as caught:
        serve(None, settings_class())
    assert reason in str(caught.value.code)
