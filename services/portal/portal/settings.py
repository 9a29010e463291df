"""Settings of the portal; every field has a local default."""

from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr

from shared.identity import LOCAL_SIGNING_KEY
from shared.settings import ServiceSettings


def _env(name: str, field: str) -> AliasChoices:
    return AliasChoices(f"PORTAL_{name}", field)


class Settings(ServiceSettings):
    """Portal settings, from the environment (PORTAL_*; the signing key is IDENTITY_SIGNING_KEY,
    shared with the services that verify it)."""

    service_name: str = "portal"
    http_port: int = Field(8000, validation_alias=_env("PORT", "http_port"))
    base_url: str = Field(
        "http://127.0.0.1:8000",
        validation_alias=_env("BASE_URL", "base_url"),
        description="Public base URL of the portal: the OIDC redirect and email links use it.",
    )
    intake_url: str = Field(
        "http://127.0.0.1:8001", validation_alias=_env("INTAKE_URL", "intake_url")
    )
    feed_url: str = Field("http://127.0.0.1:8003", validation_alias=_env("FEED_URL", "feed_url"))
    status_board_url: str = Field(
        "http://127.0.0.1:8004",
        validation_alias=_env("STATUS_BOARD_URL", "status_board_url"),
        description="Public base URL of the status board (the banner links to its notifications).",
    )
    oidc_issuer: str = Field(
        "http://127.0.0.1:9400",
        validation_alias=_env("OIDC_ISSUER", "oidc_issuer"),
        description="The identity provider; its /.well-known/openid-configuration is read.",
    )
    oidc_client_id: str = Field(
        "support-portal", validation_alias=_env("OIDC_CLIENT_ID", "oidc_client_id")
    )
    oidc_client_secret: SecretStr = Field(
        SecretStr("local-portal-oidc-client-secret"),
        validation_alias=_env("OIDC_CLIENT_SECRET", "oidc_client_secret"),
    )
    staff_oidc_issuer: str = Field(
        "http://127.0.0.1:9401",
        validation_alias=_env("STAFF_OIDC_ISSUER", "staff_oidc_issuer"),
        description="The vendor's identity provider staff sign in with (a second issuer).",
    )
    staff_oidc_client_id: str = Field(
        "support-portal-staff",
        validation_alias=_env("STAFF_OIDC_CLIENT_ID", "staff_oidc_client_id"),
    )
    staff_oidc_client_secret: SecretStr = Field(
        SecretStr("local-portal-staff-oidc-client-secret"),
        validation_alias=_env("STAFF_OIDC_CLIENT_SECRET", "staff_oidc_client_secret"),
    )
    routing_url: str = Field(
        "http://127.0.0.1:8002",
        validation_alias=_env("ROUTING_URL", "routing_url"),
        description="Routing's staff API: queues, take, assign, transfer, status changes.",
    )
    session_secret: SecretStr = Field(
        SecretStr("local-portal-session-secret-for-development"),
        validation_alias=_env("SESSION_SECRET", "session_secret"),
        description="HMAC key of the session cookie.",
    )
    session_max_age_s: int = Field(
        8 * 3600,
        ge=60,
        validation_alias=_env("SESSION_MAX_AGE_S", "session_max_age_s"),
        description="A session ends this long after sign-in.",
    )
    identity_signing_key: SecretStr = Field(
        SecretStr(LOCAL_SIGNING_KEY),
        validation_alias=AliasChoices("IDENTITY_SIGNING_KEY", "identity_signing_key"),
        description="Key of the short-lived identity tokens sent to intake and feed.",
    )
    mongo_database: str = Field(
        "portal",
        validation_alias=_env("MONGO_DATABASE", "mongo_database"),
        description="The portal's own database: used one-time sign-in links only.",
    )
    mail_from: str = Field(
        "Support Portal <support-portal@vendor.example>",
        validation_alias=_env("MAIL_FROM", "mail_from"),
        description="Sender of the one-time sign-in mail.",
    )
    link_minutes: int = Field(
        15,
        ge=1,
        le=60,
        validation_alias=_env("LINK_MINUTES", "link_minutes"),
        description="How long an emailed sign-in link works (once).",
    )
    api_timeout_s: float = Field(
        10.0, gt=0, validation_alias=_env("API_TIMEOUT_S", "api_timeout_s")
    )
    read_your_writes_s: float = Field(
        5.0,
        ge=0,
        validation_alias=_env("READ_YOUR_WRITES_S", "read_your_writes_s"),
        description="How long a page after a write waits for the feed to show it.",
    )
    live_poll_s: float = Field(
        2.0,
        gt=0,
        validation_alias=_env("LIVE_POLL_S", "live_poll_s"),
        description="How often an open case page's live stream asks the feed for changes.",
    )
    live_max_s: float = Field(
        900.0,
        gt=0,
        validation_alias=_env("LIVE_MAX_S", "live_max_s"),
        description="A live stream ends after this long; the browser reconnects.",
    )
    directory_ready_s: float = Field(
        30.0,
        gt=0,
        validation_alias=_env("DIRECTORY_READY_S", "directory_ready_s"),
        description="How long start-up waits to have read the directory topic to its end.",
    )
    # Refused in production when unset or local (the provider's too: its default is local).
    required_secrets: ClassVar[tuple[str, ...]] = (
        "mongo_url",
        "oidc_issuer",
        "oidc_client_id",
        "oidc_client_secret",
        "session_secret",
        "identity_signing_key",
    )

    @property
    def secure_cookies(self) -> bool:
        """Cookies are Secure everywhere but on the local stack (plain http on loopback)."""
        return self.environment != "local"

    @property
    def redirect_uri(self) -> str:
        """Where the identity provider sends the browser back."""
        return self.base_url.rstrip("/") + "/auth/callback"
