"""Settings of the feed service; every field has a local default."""

from pydantic import AliasChoices, AliasGenerator, Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

LOCAL_DOCS_URLS = {
    "intake": "http://127.0.0.1:8001/docs",
    "routing": "http://127.0.0.1:8002/docs",
    "feed": "http://127.0.0.1:8003/docs",
    "status board": "http://127.0.0.1:8004/api/docs",
    "status board admin": "http://127.0.0.1:8014/docs",
}
# What every service reads alike (KAFKA_BOOTSTRAP_SERVERS, MONGO_URL, HTTP_HOST, SERVICE_NAME...)
# keeps its shared name: env_prefix applies only to fields without an alias, so each of these is
# its own alias. mongo_database is the feed's own (FEED_MONGO_DATABASE).
_SHARED_NAMES = frozenset(ServiceSettings.model_fields) - {"mongo_database"}


def _shared_name(field: str) -> str | None:
    """A shared field's alias (its own name); None leaves a field to the prefix."""
    return field if field in _SHARED_NAMES else None


def _named(variable: str, field: str) -> AliasChoices:
    """A variable whose name is not `FEED_` + the field's (kept as it was published)."""
    return AliasChoices(variable, field)


class Settings(ServiceSettings):
    """Feed settings, from the environment: `FEED_<FIELD>` unless named otherwise."""

    model_config = SettingsConfigDict(
        env_prefix="FEED_",
        # pydantic takes None as "no alias"; its annotation does not say so.
        alias_generator=AliasGenerator(validation_alias=_shared_name),  # type: ignore[arg-type]
        # Only the aliases name an aliased field: by name it would also be read from
        # FEED_<FIELD> (FEED_KAFKA_BOOTSTRAP_SERVERS overriding the shared setting).
        populate_by_name=False,
        validate_by_name=False,
    )

    service_name: str = "feed"
    # FEED_PORT, as every service names its port (not FEED_HTTP_PORT).
    http_port: int = Field(8003, validation_alias=_named("FEED_PORT", "http_port"))
    mongo_database: str = "feed"
    # STATUS_BOARD_URL: the board's address, named for the board as the portal names it too.
    status_board_url: str = Field(
        "http://127.0.0.1:8004",
        validation_alias=_named("STATUS_BOARD_URL", "status_board_url"),
        description="Public base URL of the status board; the banner links to its notifications.",
    )
    live_batch: int = Field(
        2_000,
        ge=1,
        description="Case events the live consumer applies at once (one write per case).",
    )
    rebuild_batch: int = Field(2_000, ge=1)
    # FEED_OUTCOME_POLL_SECONDS: the name it was published under.
    outcome_poll_s: float = Field(
        0.5,
        gt=0,
        validation_alias=_named("FEED_OUTCOME_POLL_SECONDS", "outcome_poll_s"),
        description=(
            "How often a reader waiting for a command's outcome reads it again; the outcomes "
            "this replica projects wake it at once."
        ),
    )
    docs_urls: dict[str, str] = Field(
        default_factory=lambda: dict(LOCAL_DOCS_URLS),
        description="Every service's API docs (a JSON object), linked from the feed's docs page.",
    )
