"""Settings of the routing service; every field has a local default."""

from typing import Literal

from pydantic import AliasChoices, AliasGenerator, Field, SecretStr
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
# its own alias. mongo_database is routing's own (ROUTING_MONGO_DATABASE).
_SHARED_NAMES = frozenset(ServiceSettings.model_fields) - {"mongo_database"}


def _shared_name(field: str) -> str | None:
    """A shared field's alias (its own name); None leaves a field to the prefix."""
    return field if field in _SHARED_NAMES else None


def _named(variable: str, field: str) -> AliasChoices:
    """A variable whose name is not `ROUTING_` + the field's (kept as it was named)."""
    return AliasChoices(variable, field)


class Settings(ServiceSettings):
    """Routing settings, from the environment: `ROUTING_<FIELD>` unless named otherwise."""

    model_config = SettingsConfigDict(
        env_prefix="ROUTING_",
        # pydantic takes None as "no alias"; its annotation does not say so.
        alias_generator=AliasGenerator(validation_alias=_shared_name),  # type: ignore[arg-type]
    )

    service_name: str = "routing"
    # ROUTING_PORT, as every service names its port (not ROUTING_HTTP_PORT).
    http_port: int = Field(8002, validation_alias=_named("ROUTING_PORT", "http_port"))
    mongo_database: str = "routing"
    assignment: Literal["round_robin", "least_loaded"] = "round_robin"
    holiday_country: str = "US"
    holiday_subdivision: str | None = None
    # ROUTING_REMIND_BEFORE and ROUTING_TIMER_INTERVAL: the names they were published under.
    remind_before_business_days: int = Field(
        2,
        ge=1,
        le=9,
        validation_alias=_named("ROUTING_REMIND_BEFORE", "remind_before_business_days"),
    )
    timer_interval_seconds: float = Field(
        30.0, gt=0, validation_alias=_named("ROUTING_TIMER_INTERVAL", "timer_interval_seconds")
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
        validation_alias=_named("ROUTING_URL", "routing_url"),
    )
    staff_token: SecretStr | None = Field(
        None, description="Console only: the staff bearer token the console calls with."
    )
