"""Settings of the feed service; every field has a local default."""

from pydantic import AliasChoices, Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """Feed settings, from the environment."""

    service_name: str = "feed"
    http_port: int = Field(8003, validation_alias=AliasChoices("FEED_PORT", "http_port"))
    mongo_database: str = Field(
        "feed", validation_alias=AliasChoices("FEED_MONGO_DATABASE", "mongo_database")
    )
    status_board_url: str = Field(
        "http://127.0.0.1:8004",
        validation_alias=AliasChoices("STATUS_BOARD_URL", "status_board_url"),
        description="Public base URL of the status board; the banner links to its notifications.",
    )
    live_batch: int = Field(
        2_000,
        validation_alias=AliasChoices("FEED_LIVE_BATCH", "live_batch"),
        ge=1,
        description="Case events the live consumer applies at once (one write per case).",
    )
    rebuild_batch: int = Field(
        2_000, validation_alias=AliasChoices("FEED_REBUILD_BATCH", "rebuild_batch"), ge=1
    )
    outcome_poll_s: float = Field(
        0.5,
        validation_alias=AliasChoices("FEED_OUTCOME_POLL_SECONDS", "outcome_poll_s"),
        gt=0,
        description=(
            "How often a reader waiting for a command's outcome reads it again; the outcomes "
            "this replica projects wake it at once."
        ),
    )
