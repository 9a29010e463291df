"""Settings of the feed service; every field has a local default."""

from pydantic import Field

from shared.settings import LOCAL_DOCS_URLS, ServiceSettings, named, service_config


class Settings(ServiceSettings):
    """Feed settings, from the environment: `FEED_<FIELD>` unless named otherwise."""

    model_config = service_config("FEED_")

    service_name: str = "feed"
    # FEED_PORT, as every service names its port (not FEED_HTTP_PORT).
    http_port: int = Field(8003, validation_alias=named("FEED_PORT", "http_port"))
    mongo_database: str = "feed"
    # STATUS_BOARD_URL: the board's address, named for the board as the portal names it too.
    status_board_url: str = Field(
        "http://127.0.0.1:8004",
        validation_alias=named("STATUS_BOARD_URL", "status_board_url"),
        description="Public base URL of the status board; the banner links to its notifications.",
    )
    live_batch: int = Field(
        2_000,
        ge=1,
        description="Case events the live consumer applies at once (one write per case).",
    )
    live_wait_ms: int = Field(
        20,
        ge=1,
        description=(
            "How long the live consumer polls for case events before polling again; a record "
            "arriving on an idle consumer waits about twice this at most."
        ),
    )
    rebuild_batch: int = Field(2_000, ge=1)
    subjects_deferred: bool = Field(
        True,
        description=(
            "Make a new case visible first and index its subject for search just after, "
            "outside the batch (searches stay exact meanwhile); false: within the batch."
        ),
    )
    subjects_batch: int = Field(
        500, ge=1, description="Cases whose subjects the indexer enters at once."
    )
    # FEED_OUTCOME_POLL_SECONDS: the name it was published under.
    outcome_poll_s: float = Field(
        0.5,
        gt=0,
        validation_alias=named("FEED_OUTCOME_POLL_SECONDS", "outcome_poll_s"),
        description=(
            "How often a reader waiting for a command's outcome reads it again; the outcomes "
            "this replica projects wake it at once."
        ),
    )
    docs_urls: dict[str, str] = Field(
        default_factory=lambda: dict(LOCAL_DOCS_URLS),
        description="Every service's API docs (a JSON object), linked from the feed's docs page.",
    )
