"""Settings of the intake service; every field has a local default."""

from collections.abc import Callable
from pathlib import Path
from typing import cast

from pydantic import AliasChoices, AliasGenerator, Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

MIB = 2**20
REPO_SEED = Path(__file__).resolve().parents[3] / "deploy" / "seed" / "directory.json"
PREFIX = "INTAKE_"
LOCAL_DOCS_URLS = {
    "intake": "http://127.0.0.1:8001/docs",
    "routing": "http://127.0.0.1:8002/docs",
    "feed": "http://127.0.0.1:8003/docs",
    "status board": "http://127.0.0.1:8004/api/docs",
    "status board admin": "http://127.0.0.1:8014/docs",
}
# Every process reads the shared infrastructure and HTTP settings (KAFKA_BOOTSTRAP_SERVERS,
# MONGO_URL, LOG_LEVEL, HTTP_HOST, ...) under one name, so intake's prefix must not reach
# them; intake's own fields among them (its name, port and database) are declared below.
SHARED_FIELDS = frozenset(ServiceSettings.model_fields) - {"http_port", "mongo_database"}


def _unprefixed(name: str) -> AliasChoices | None:
    """A shared setting keeps its own variable name; intake's own fields get the prefix."""
    return AliasChoices(name.upper(), name) if name in SHARED_FIELDS else None


def _named(variable: str, field: str) -> AliasChoices:
    """A variable kept under the name it had before the prefix, and the field's own name."""
    return AliasChoices(variable, field)


# pydantic leaves a field alone when the generator answers None (its annotation omits None).
KEEP_SHARED_NAMES = AliasGenerator(
    validation_alias=cast("Callable[[str], AliasChoices]", _unprefixed)
)


class Settings(ServiceSettings):
    """Intake settings, from the environment: `INTAKE_<FIELD>` unless named otherwise."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
        alias_generator=KEEP_SHARED_NAMES,
        # Only its aliases name an aliased field: by name it would also be read from
        # INTAKE_<FIELD> (INTAKE_KAFKA_BOOTSTRAP_SERVERS overriding the shared setting).
        populate_by_name=False,
        validate_by_name=False,
    )

    service_name: str = "intake"
    # The ports of all services are <SERVICE>_PORT, not <SERVICE>_HTTP_PORT.
    http_port: int = Field(8001, validation_alias=_named("INTAKE_PORT", "http_port"))
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
        100, ge=4, validation_alias=_named("CASE_NUMBER_BLOCK", "case_number_block")
    )
    case_number_start: int = Field(
        1_000_000, ge=0, validation_alias=_named("CASE_NUMBER_START", "case_number_start")
    )
    max_json_bytes: int = Field(
        256 * 1024, validation_alias=_named("MAX_JSON_BYTES", "max_json_bytes")
    )
    max_attachment_bytes: int = Field(
        15 * MIB, validation_alias=_named("MAX_ATTACHMENT_BYTES", "max_attachment_bytes")
    )
    max_attachments: int = Field(10, validation_alias=_named("MAX_ATTACHMENTS", "max_attachments"))
    multipart_overhead_bytes: int = Field(
        1 * MIB, validation_alias=_named("MULTIPART_OVERHEAD_BYTES", "multipart_overhead_bytes")
    )
    kafka_retry_seconds: float = Field(
        2.0, validation_alias=_named("KAFKA_RETRY_SECONDS", "kafka_retry_seconds")
    )
    # Named after the feed, whose public address it is (the feed's own settings are FEED_*).
    feed_public_url: str = Field(
        "http://127.0.0.1:8003",
        validation_alias=_named("FEED_PUBLIC_URL", "feed_public_url"),
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
