"""Settings of the routing service; every field has a local default."""

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr

from shared.settings import ServiceSettings


def _env(name: str, field: str) -> AliasChoices:
    return AliasChoices(name, field)


class Settings(ServiceSettings):
    """Routing settings, from the environment."""

    service_name: str = "routing"
    http_port: int = Field(8002, validation_alias=_env("ROUTING_PORT", "http_port"))
    mongo_database: str = Field(
        "routing", validation_alias=_env("ROUTING_MONGO_DATABASE", "mongo_database")
    )
    assignment: Literal["round_robin", "least_loaded"] = Field(
        "round_robin", validation_alias=_env("ROUTING_ASSIGNMENT", "assignment")
    )
    holiday_country: str = Field(
        "US", validation_alias=_env("ROUTING_HOLIDAY_COUNTRY", "holiday_country")
    )
    holiday_subdivision: str | None = Field(
        None, validation_alias=_env("ROUTING_HOLIDAY_SUBDIVISION", "holiday_subdivision")
    )
    remind_before_business_days: int = Field(
        2, ge=1, le=9, validation_alias=_env("ROUTING_REMIND_BEFORE", "remind_before_business_days")
    )
    timer_interval_seconds: float = Field(
        30.0, gt=0, validation_alias=_env("ROUTING_TIMER_INTERVAL", "timer_interval_seconds")
    )
    replica_id: str = Field("0", validation_alias=_env("ROUTING_REPLICA_ID", "replica_id"))
    batch_max: int = Field(500, ge=1, validation_alias=_env("ROUTING_BATCH_MAX", "batch_max"))
    poll_timeout_ms: int = Field(
        100, ge=1, validation_alias=_env("ROUTING_POLL_TIMEOUT_MS", "poll_timeout_ms")
    )
    fault_exit_after_batches: int | None = Field(
        None,
        ge=1,
        description="Fault drill only: exit after this many batches, before their Kafka commit.",
        validation_alias=_env("ROUTING_FAULT_EXIT_AFTER_BATCHES", "fault_exit_after_batches"),
    )
    fetch_max_wait_ms: int = Field(
        20, ge=1, validation_alias=_env("ROUTING_FETCH_MAX_WAIT_MS", "fetch_max_wait_ms")
    )
    pipeline: bool = Field(
        False,
        description="Poll, decide and write the next batch while the previous one commits "
        "(measured slower at 100 cases/s on the local stack, see docs/bench/routing.md).",
        validation_alias=_env("ROUTING_PIPELINE", "pipeline"),
    )
    producer_retry_backoff_ms: int = Field(
        20,
        ge=1,
        description="Wait before retrying a transaction call the broker was not ready for.",
        validation_alias=_env("ROUTING_PRODUCER_RETRY_BACKOFF_MS", "producer_retry_backoff_ms"),
    )
    stall_after_seconds: float = Field(
        30.0,
        gt=0,
        description="/readyz fails once the engine has neither caught up nor committed this long.",
        validation_alias=_env("ROUTING_STALL_AFTER_SECONDS", "stall_after_seconds"),
    )
    clock_offset_file: str | None = Field(
        None,
        description="Local stack and drills only: a file holding seconds added to the clock.",
        validation_alias=_env("ROUTING_CLOCK_OFFSET_FILE", "clock_offset_file"),
    )
    routes_file: str | None = Field(
        None, validation_alias=_env("ROUTING_ROUTES_FILE", "routes_file")
    )
    intake_url: str = Field(
        "http://127.0.0.1:8001",
        description="Console only: intake's base URL, where staff posts go.",
        validation_alias=_env("ROUTING_INTAKE_URL", "intake_url"),
    )
    routing_url: str = Field(
        "http://127.0.0.1:8002",
        description="Console only: routing's staff API, where `queue` reads.",
        validation_alias=_env("ROUTING_URL", "routing_url"),
    )
    staff_token: SecretStr | None = Field(
        None,
        description="Console only: the staff bearer token the console calls with.",
        validation_alias=_env("ROUTING_STAFF_TOKEN", "staff_token"),
    )
