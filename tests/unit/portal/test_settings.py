"""The portal's settings: each environment variable it reads and its default, by hand."""

from pathlib import Path
from typing import Any

import pytest
from portal.settings import Settings
from pydantic import SecretStr

from shared.settings import env_name, load_settings

LOCAL_MONGO = "mongodb://127.0.0.1:27017/?directConnection=true&retryWrites=false"
# Variable: (default, a value to set, what the setting then holds).
VARIABLES: dict[str, tuple[Any, str, Any]] = {
    "ENVIRONMENT": ("local", "production", "production"),
    "KAFKA_BOOTSTRAP_SERVERS": ("127.0.0.1:9092", "kafka:9092", "kafka:9092"),
    "MONGO_URL": (LOCAL_MONGO, "mongodb://portal:a-long-enough-password@db:27017",
                  "mongodb://portal:a-long-enough-password@db:27017"),
    "SMTP_HOST": ("127.0.0.1", "mail", "mail"),
    "SMTP_PORT": (1025, "25", 25),
    "TOPIC_NAMESPACE": ("", "drill", "drill"),
    "LOG_LEVEL": ("INFO", "DEBUG", "DEBUG"),
    "LOG_FORMAT": ("json", "text", "text"),
    "SERVICE_NAME": ("portal", "portal-b", "portal-b"),
    "HTTP_HOST": ("127.0.0.1", "0.0.0.0", "0.0.0.0"),
    "PORTAL_PORT": (8000, "9000", 9000),
    "PORTAL_MONGO_DATABASE": ("portal", "portal_b", "portal_b"),
    "KAFKA_PARTITIONS": (6, "12", 12),
    "HTTP_MAX_HEAD_BYTES": (32768, "65536", 65536),
    "HTTP_HEAD_TIMEOUT_S": (10.0, "5", 5.0),
    "HTTP_BODY_TIMEOUT_S": (20.0, "30", 30.0),
    "HTTP_BODY_MIN_RATE": (8192, "1024", 1024),
    "PORTAL_BASE_URL": ("http://127.0.0.1:8000", "https://support.example",
                        "https://support.example"),
    "PORTAL_INTAKE_URL": ("http://127.0.0.1:8001", "http://intake:8001", "http://intake:8001"),
    "PORTAL_FEED_URL": ("http://127.0.0.1:8003", "http://feed:8003", "http://feed:8003"),
    "PORTAL_STATUS_BOARD_URL": ("http://127.0.0.1:8004", "https://status.example",
                                "https://status.example"),
    "PORTAL_OIDC_ISSUER": ("http://127.0.0.1:9400", "https://login.district.example",
                           "https://login.district.example"),
    "PORTAL_OIDC_CLIENT_ID": ("support-portal", "portal-prod", "portal-prod"),
    "PORTAL_OIDC_CLIENT_SECRET": ("local-portal-oidc-client-secret", "s3cret-of-the-district",
                                  "s3cret-of-the-district"),
    "PORTAL_STAFF_OIDC_ISSUER": ("http://127.0.0.1:9401", "https://login.vendor.example",
                                 "https://login.vendor.example"),
    "PORTAL_STAFF_OIDC_CLIENT_ID": ("support-portal-staff", "staff-prod", "staff-prod"),
    "PORTAL_STAFF_OIDC_CLIENT_SECRET": ("local-portal-staff-oidc-client-secret",
                                        "s3cret-of-the-vendor", "s3cret-of-the-vendor"),
    "PORTAL_STATUS_BOARD_ADMIN_URL": ("http://127.0.0.1:8014", "http://status-board:8014",
                                      "http://status-board:8014"),
    "PORTAL_STATUS_BOARD_ADMIN_TOKEN": ("local-status-admin-token",
                                        "an-admin-token-of-this-deployment",
                                        "an-admin-token-of-this-deployment"),
    "PORTAL_ROUTING_URL": ("http://127.0.0.1:8002", "http://routing:8002",
                           "http://routing:8002"),
    "PORTAL_SESSION_SECRET": ("local-portal-session-secret-for-development",
                              "a-session-key-of-this-deployment",
                              "a-session-key-of-this-deployment"),
    "PORTAL_SESSION_MAX_AGE_S": (28800, "3600", 3600),
    "IDENTITY_SIGNING_KEY": ("local-identity-signing-key-for-development-only",
                             "a-signing-key-of-this-deployment",
                             "a-signing-key-of-this-deployment"),
    "PORTAL_MAIL_FROM": ("Support Portal <support-portal@vendor.example>",
                         "Help <help@district.example>", "Help <help@district.example>"),
    "PORTAL_LINK_MINUTES": (15, "10", 10),
    "PORTAL_API_TIMEOUT_S": (10.0, "3", 3.0),
    "PORTAL_READ_YOUR_WRITES_S": (5.0, "2", 2.0),
    "PORTAL_LIVE_POLL_S": (2.0, "1", 1.0),
    "PORTAL_LIVE_GAP_S": (0.25, "0.5", 0.5),
    "PORTAL_LIVE_MAX_S": (900.0, "600", 600.0),
    "PORTAL_DIRECTORY_READY_S": (30.0, "10", 10.0),
    "PORTAL_SMTP_SECURITY": ("none", "starttls", "starttls"),
    "PORTAL_SMTP_USERNAME": (None, "portal-mail", "portal-mail"),
    "PORTAL_SMTP_PASSWORD": (None, "a-relay-password-of-this-deployment",
                             "a-relay-password-of-this-deployment"),
    "PORTAL_SMTP_CA_FILE": (None, __file__, Path(__file__)),
    "PORTAL_SMTP_VERIFY": (True, "false", False),
    "PORTAL_SMTP_TIMEOUT": (10.0, "20", 20.0),
}  # fmt: skip


def _plain(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _by_variable(settings: Settings) -> dict[str, Any]:
    """Each setting's value under the environment variable it is read from."""
    return {
        env_name(settings, name): _plain(getattr(settings, name))
        for name in type(settings).model_fields
    }


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment holding none of the portal's variables."""
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_every_variable_and_its_default(clean_env: pytest.MonkeyPatch) -> None:
    """With nothing set, the portal reads exactly these variables, with these defaults."""
    expected = {variable: default for variable, (default, _, _) in VARIABLES.items()}
    assert _by_variable(Settings()) == expected


def test_each_variable_is_read_under_its_name(clean_env: pytest.MonkeyPatch) -> None:
    """Setting each variable changes its setting."""
    for variable, (_, raw, _) in VARIABLES.items():
        clean_env.setenv(variable, raw)
    expected = {variable: value for variable, (_, _, value) in VARIABLES.items()}
    assert _by_variable(Settings()) == expected


def test_unprefixed_and_prefixed_shared_names_are_not_read(clean_env: pytest.MonkeyPatch) -> None:
    """BASE_URL, MONGO_DATABASE, PORTAL_HTTP_PORT and PORTAL_KAFKA_BOOTSTRAP_SERVERS are not
    portal variables: another service's settings never leak into the portal's."""
    clean_env.setenv("BASE_URL", "https://elsewhere.example")
    clean_env.setenv("MONGO_DATABASE", "intake")
    clean_env.setenv("PORTAL_HTTP_PORT", "9999")
    clean_env.setenv("PORTAL_KAFKA_BOOTSTRAP_SERVERS", "elsewhere:9092")
    settings = Settings()
    assert (
        settings.base_url,
        settings.mongo_database,
        settings.http_port,
        settings.kafka_bootstrap_servers,
    ) == ("http://127.0.0.1:8000", "portal", 8000, "127.0.0.1:9092")


def test_settings_are_given_by_field_name_in_code() -> None:
    """Tests and tools build settings by field name, aliased or not."""
    settings = Settings(http_port=9100, base_url="https://support.example", link_minutes=5)
    assert (settings.http_port, settings.base_url, settings.link_minutes) == (
        9100,
        "https://support.example",
        5,
    )
    assert settings.redirect_uri == "https://support.example/auth/callback"


def test_a_bad_variable_stops_the_start_naming_it(clean_env: pytest.MonkeyPatch) -> None:
    """PORTAL_LINK_MINUTES above 60 (the seeds' link lasts 15 minutes) stops the start with a
    line naming the variable and the rule, without echoing any value."""
    clean_env.setenv("PORTAL_LINK_MINUTES", "120")
    clean_env.setenv("PORTAL_SESSION_SECRET", "x" * 40)
    clean_env.setenv("PORTAL_PORT", "eighty")
    with pytest.raises(SystemExit) as stopped:
        load_settings(Settings)
    message = str(stopped.value.code)
    assert message.startswith("portal: not starting: ")
    assert "PORTAL_LINK_MINUTES: Input should be less than or equal to 60" in message
    assert "PORTAL_PORT: Input should be a valid integer" in message
    assert "120" not in message
    assert "eighty" not in message


def test_a_login_in_clear_is_refused_in_production(clean_env: pytest.MonkeyPatch) -> None:
    """The sign-in mail's relay password is never sent over plain SMTP in production."""
    for variable, (_, raw, _) in VARIABLES.items():
        clean_env.setenv(variable, raw)
    clean_env.setenv("PORTAL_SMTP_SECURITY", "none")
    with pytest.raises(SystemExit) as stopped:
        load_settings(Settings)
    assert "PORTAL_SMTP_USERNAME with PORTAL_SMTP_SECURITY=none" in str(stopped.value.code)
