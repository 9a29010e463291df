"""Settings of the portal; every field has a local default."""

from typing import ClassVar

from pydantic import Field, SecretStr

from shared.identity import LOCAL_SIGNING_KEY
from shared.settings import ServiceSettings, named, service_config
from shared.smtp import SmtpClientSettings


class Settings(ServiceSettings, SmtpClientSettings):
    """Portal settings, from the environment: `PORTAL_<FIELD>` unless named otherwise (the
    signing key is IDENTITY_SIGNING_KEY, shared with the services that verify it). The sign-in
    mail's relay is SMTP_HOST and SMTP_PORT, protected and logged in to as PORTAL_SMTP_SECURITY,
    PORTAL_SMTP_USERNAME, PORTAL_SMTP_PASSWORD, PORTAL_SMTP_CA_FILE and PORTAL_SMTP_VERIFY say."""

    model_config = service_config("PORTAL_")

    service_name: str = "portal"
    http_port: int = Field(8000, validation_alias=named("PORTAL_PORT", "http_port"))
    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public base URL of the portal: the OIDC redirect and email links use it.",
    )
    intake_url: str = Field("http://127.0.0.1:8001")
    feed_url: str = Field("http://127.0.0.1:8003")
    status_board_url: str = Field(
        "http://127.0.0.1:8004",
        description="Public base URL of the status board (the banner links to its notifications).",
    )
    oidc_issuer: str = Field(
        "http://127.0.0.1:9400",
        description="The identity provider; its /.well-known/openid-configuration is read.",
    )
    oidc_client_id: str = Field("support-portal")
    oidc_client_secret: SecretStr = Field(
        SecretStr("local-portal-oidc-client-secret"),
    )
    staff_oidc_issuer: str = Field(
        "http://127.0.0.1:9401",
        description="The vendor's identity provider staff sign in with (a second issuer).",
    )
    staff_oidc_client_id: str = Field(
        "support-portal-staff",
    )
    staff_oidc_client_secret: SecretStr = Field(
        SecretStr("local-portal-staff-oidc-client-secret"),
    )
    status_board_admin_url: str = Field(
        "http://127.0.0.1:8014",
        description="The status board's admin API (never public): staff open, update and "
        "resolve incidents and maintenance through it.",
    )
    status_board_admin_token: SecretStr = Field(
        SecretStr("local-status-admin-token"),  # the board's own local default
        description="Bearer token of the status board's admin API (its STATUS_BOARD_ADMIN_TOKEN).",
    )
    routing_url: str = Field(
        "http://127.0.0.1:8002",
        description="Routing's staff API: queues, take, assign, transfer, status changes.",
    )
    session_secret: SecretStr = Field(
        SecretStr("local-portal-session-secret-for-development"),
        description="HMAC key of the session cookie.",
    )
    session_max_age_s: int = Field(
        8 * 3600,
        ge=60,
        description="A session ends this long after sign-in.",
    )
    identity_signing_key: SecretStr = Field(
        SecretStr(LOCAL_SIGNING_KEY),
        validation_alias=named("IDENTITY_SIGNING_KEY", "identity_signing_key"),
        description="Key of the short-lived identity tokens sent to intake and feed.",
    )
    mongo_database: str = Field(
        "portal",
        description="The portal's own database: used one-time sign-in links only.",
    )
    mail_from: str = Field(
        "Support Portal <support-portal@vendor.example>",
        description="Sender of the one-time sign-in mail.",
    )
    link_minutes: int = Field(
        15,
        ge=1,
        le=60,
        description="How long an emailed sign-in link works (once).",
    )
    api_timeout_s: float = Field(10.0, gt=0)
    read_your_writes_s: float = Field(
        5.0,
        ge=0,
        description="How long a page after a write waits for the feed to show it.",
    )
    live_poll_s: float = Field(
        2.0,
        gt=0,
        description="How often an open case page's live stream asks the feed for changes.",
    )
    live_gap_s: float = Field(
        0.25,
        gt=0,
        description="The least time between two looks of a staff queue page's live stream, "
        "which any case event wakes (at 100 cases/s it looks about 4 times a second).",
    )
    live_max_s: float = Field(
        900.0,
        gt=0,
        description="A live stream ends after this long; the browser reconnects.",
    )
    directory_ready_s: float = Field(
        30.0,
        gt=0,
        description="How long start-up waits to have read the directory topic to its end.",
    )
    # Refused in production when unset or local (the provider's too: its default is local).
    required_secrets: ClassVar[tuple[str, ...]] = (
        "mongo_url",
        "oidc_issuer",
        "oidc_client_id",
        "oidc_client_secret",
        "staff_oidc_issuer",
        "staff_oidc_client_id",
        "staff_oidc_client_secret",
        "status_board_admin_token",
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
