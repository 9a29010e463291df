"""Settings of the intake service; every field has a local default."""

from pathlib import Path

from pydantic import Field, SecretStr

from shared.settings import LOCAL_DOCS_URLS, ServiceSettings, named, service_config

MIB = 2**20
REPO_SEED = Path(__file__).resolve().parents[3] / "deploy" / "seed" / "directory.json"
PREFIX = "INTAKE_"


class Settings(ServiceSettings):
    """Intake settings, from the environment: `INTAKE_<FIELD>` unless named otherwise."""

    model_config = service_config(PREFIX)

    service_name: str = "intake"
    # The ports of all services are <SERVICE>_PORT, not <SERVICE>_HTTP_PORT.
    http_port: int = Field(8001, validation_alias=named("INTAKE_PORT", "http_port"))
    mongo_database: str = "intake"
    seed_file: str | None = Field(
        None,
        description=(
            "Directory seed loaded at start-up; empty loads none. Unset: the repository's "
            "local-development seed in local mode, none in production."
        ),
    )
    publish_timeout_ms: int = Field(
        2_000, description="Producer request timeout; a batch not acknowledged by then is dropped."
    )
    linger_ms: int = 2
    rate_per_second: float = 50.0
    rate_burst: int = 100
    startup_wait_seconds: float = Field(
        10.0, description="How long start-up waits for Kafka before serving (503s) while retrying."
    )
    docs_urls: dict[str, str] = Field(
        default_factory=lambda: dict(LOCAL_DOCS_URLS),
        description="Every service's API docs (a JSON object), linked from intake's docs page.",
    )
    # Deployments set these under the names they had before intake's settings took a prefix;
    # renaming them would silently drop a configured limit, so each keeps its name.
    case_number_block: int = Field(
        100, ge=4, validation_alias=named("CASE_NUMBER_BLOCK", "case_number_block")
    )
    case_number_start: int = Field(
        1_000_000, ge=0, validation_alias=named("CASE_NUMBER_START", "case_number_start")
    )
    max_json_bytes: int = Field(
        256 * 1024, validation_alias=named("MAX_JSON_BYTES", "max_json_bytes")
    )
    max_attachment_bytes: int = Field(
        15 * MIB, validation_alias=named("MAX_ATTACHMENT_BYTES", "max_attachment_bytes")
    )
    max_attachments: int = Field(10, validation_alias=named("MAX_ATTACHMENTS", "max_attachments"))
    multipart_overhead_bytes: int = Field(
        1 * MIB, validation_alias=named("MULTIPART_OVERHEAD_BYTES", "multipart_overhead_bytes")
    )
    kafka_retry_seconds: float = Field(
        2.0, validation_alias=named("KAFKA_RETRY_SECONDS", "kafka_retry_seconds")
    )
    # Named after the feed, whose public address it is (the feed's own settings are FEED_*).
    feed_public_url: str = Field(
        "http://127.0.0.1:8003",
        validation_alias=named("FEED_PUBLIC_URL", "feed_public_url"),
        description="Public base URL of the feed; a command's 202 links to its outcome there.",
    )
    # --- replies by email: the inbound listener, `python -m intake inbound` ---------------
    inbound_smtp_host: str = Field(
        "127.0.0.1",
        validation_alias=named("INBOUND_SMTP_HOST", "inbound_smtp_host"),
        description="Address the inbound SMTP listener binds.",
    )
    inbound_smtp_port: int = Field(
        2525,
        ge=1,
        le=65535,
        validation_alias=named("INBOUND_SMTP_PORT", "inbound_smtp_port"),
        description="Port of the inbound SMTP listener, where the relay delivers replies.",
    )
    inbound_http_port: int = Field(
        8011,
        validation_alias=named("INTAKE_INBOUND_PORT", "inbound_http_port"),
        description="HTTP port of the inbound listener's /healthz, /readyz and /metrics.",
    )
    inbound_max_message_bytes: int = Field(
        50 * MIB, ge=64 * 1024, description="Largest message the listener accepts (SMTP SIZE)."
    )
    inbound_rate_per_minute: float = Field(
        10.0, gt=0, description="Messages per minute per sender; beyond the burst 451 4.7.1."
    )
    inbound_rate_burst: int = Field(20, ge=1, description="Messages a sender may send at once.")
    inbound_own_addresses: list[str] = Field(
        default_factory=list,
        description="More addresses of ours: mail from them is recorded, never posted.",
    )
    # Notify signs Message-IDs and reply addresses with it; the listener verifies them, so
    # both read the same variable.
    mail_reply_key: SecretStr = Field(
        SecretStr("local-mail-reply-key"),
        validation_alias=named("MAIL_REPLY_KEY", "mail_reply_key"),
        description="Secret of the Message-IDs and reply addresses of notices.",
    )
    mail_from: str = Field(
        "support@support-portal.local",
        description="From of the listener's answers; mail from it is never posted.",
    )
    mail_domain: str = Field(
        "support-portal.local", description="Right-hand side of the answers' Message-IDs."
    )
    portal_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL of the Support Portal, linked from the listener's answers.",
    )

    @property
    def seed_path(self) -> Path | None:
        """The directory seed to load, if any: production loads one only when it is named."""
        if self.seed_file is None:
            local = self.environment == "local" and REPO_SEED.exists()
            return REPO_SEED if local else None
        return Path(self.seed_file) if self.seed_file.strip() else None

    @property
    def max_multipart_bytes(self) -> int:
        """The whole multipart body: every attachment at its limit plus the text and framing."""
        return self.max_attachments * self.max_attachment_bytes + self.multipart_overhead_bytes
