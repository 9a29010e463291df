"""Settings of the intake service; every field has a local default."""

from pathlib import Path

from pydantic import AliasChoices, Field

from shared.settings import ServiceSettings

MIB = 2**20
REPO_SEED = Path(__file__).resolve().parents[3] / "deploy" / "seed" / "directory.json"


def _env(name: str, field: str) -> AliasChoices:
    return AliasChoices(name, field)


class Settings(ServiceSettings):
    """Intake settings, from the environment."""

    service_name: str = "intake"
    http_port: int = Field(8001, validation_alias=_env("INTAKE_PORT", "http_port"))
    mongo_database: str = Field(
        "intake", validation_alias=_env("INTAKE_MONGO_DATABASE", "mongo_database")
    )
    seed_file: str | None = Field(
        None,
        validation_alias=_env("INTAKE_SEED_FILE", "seed_file"),
        description=(
            "Directory seed loaded at start-up; empty loads none. Unset: the repository's "
            "local-development seed in local mode, none in production."
        ),
    )
    publish_timeout_ms: int = Field(
        2_000,
        validation_alias=_env("INTAKE_PUBLISH_TIMEOUT_MS", "publish_timeout_ms"),
        description="Producer request timeout; a batch not acknowledged by then is dropped.",
    )
    linger_ms: int = Field(2, validation_alias=_env("INTAKE_LINGER_MS", "linger_ms"))
    rate_per_second: float = Field(
        50.0, validation_alias=_env("INTAKE_RATE_PER_SECOND", "rate_per_second")
    )
    rate_burst: int = Field(100, validation_alias=_env("INTAKE_RATE_BURST", "rate_burst"))
    case_number_block: int = Field(100, ge=4)
    case_number_start: int = Field(1_000_000, ge=0)
    max_json_bytes: int = 256 * 1024
    max_attachment_bytes: int = 15 * MIB
    max_attachments: int = 10
    multipart_overhead_bytes: int = 1 * MIB
    startup_wait_seconds: float = Field(
        10.0,
        validation_alias=_env("INTAKE_STARTUP_WAIT_SECONDS", "startup_wait_seconds"),
        description="How long start-up waits for Kafka before serving (503s) while retrying.",
    )
    kafka_retry_seconds: float = 2.0
    feed_public_url: str = Field(
        "http://127.0.0.1:8003",
        validation_alias=_env("FEED_PUBLIC_URL", "feed_public_url"),
        description="Public base URL of the feed; a command's 202 links to its outcome there.",
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
