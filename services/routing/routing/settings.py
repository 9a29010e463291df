"""Settings of the routing service; every field has a local default."""

from typing import Literal

from pydantic import Field, SecretStr

from shared.settings import LOCAL_DOCS_URLS, ServiceSettings, named, service_config


class Settings(ServiceSettings):
    """Routing settings, from the environment: `ROUTING_<FIELD>` unless named otherwise."""

    model_config = service_config("ROUTING_")

    service_name: str = "routing"
    # ROUTING_PORT, as every service names its port (not ROUTING_HTTP_PORT).
    http_port: int = Field(8002, validation_alias=named("ROUTING_PORT", "http_port"))
    mongo_database: str = "routing"
    assignment: Literal["round_robin", "least_loaded"] = "round_robin"
    holiday_country: str = "US"
    holiday_subdivision: str | None = None
    # ROUTING_REMIND_BEFORE and ROUTING_TIMER_INTERVAL: the names they were published under.
    remind_before_business_days: int = Field(
        2,
        ge=1,
        le=9,
        validation_alias=named("ROUTING_REMIND_BEFORE", "remind_before_business_days"),
    )
    timer_interval_seconds: float = Field(
        30.0, gt=0, validation_alias=named("ROUTING_TIMER_INTERVAL", "timer_interval_seconds")
    )
    replica_id: str = "0"
    batch_max: int = Field(500, ge=1)
    poll_timeout_ms: int = Field(100, ge=1)
    fault_exit_after_batches: int | None = Field(
        None,
        ge=1,
        description="Fault drill only: exit after this many batches, before their Kafka commit.",
    )
    fetch_max_wait_ms: int = Field(20, ge=1)
    pipeline: bool = Field(
        False,
        description="Poll, decide and write the next batch while the previous one commits "
        "(measured slower at 100 cases/s on the local stack, see docs/bench/routing.md).",
    )
    producer_retry_backoff_ms: int = Field(
        20,
        ge=1,
        description="Wait before retrying a transaction call the broker was not ready for.",
    )
    stall_after_seconds: float = Field(
        30.0,
        gt=0,
        description="/readyz fails once the engine has neither caught up nor committed this long.",
    )
    clock_offset_file: str | None = Field(
        None, description="Local stack and drills only: a file holding seconds added to the clock."
    )
    routes_file: str | None = None
    sla_file: str | None = Field(
        None, description="SLA targets and calendars (JSON); unset: the packaged routing/sla.json."
    )
    sla_clocks: bool = Field(
        True, description="Keep SLA clocks, warnings and breaches; false turns them off."
    )
    docs_urls: dict[str, str] = Field(
        default_factory=lambda: dict(LOCAL_DOCS_URLS),
        description="Every service's API docs (a JSON object), linked from routing's docs page.",
    )
    intake_url: str = Field(
        "http://127.0.0.1:8001",
        description="Console only: intake's base URL, where staff posts go.",
    )
    # ROUTING_URL, not ROUTING_ROUTING_URL.
    routing_url: str = Field(
        "http://127.0.0.1:8002",
        description="Console only: routing's staff API, where `queue` reads.",
        validation_alias=named("ROUTING_URL", "routing_url"),
    )
    staff_token: SecretStr | None = Field(
        None, description="Console only: the staff bearer token the console calls with."
    )
