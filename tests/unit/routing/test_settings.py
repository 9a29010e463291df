"""Routing's settings: every environment variable it reads and its default, written out by hand."""

from typing import Any

import pytest
from pydantic import SecretStr

from routing.settings import Settings
from shared.settings import env_name

LOCAL_MONGO = "mongodb://127.0.0.1:27017/?directConnection=true&retryWrites=false"
DOCS = {
    "intake": "http://127.0.0.1:8001/docs",
    "routing": "http://127.0.0.1:8002/docs",
    "feed": "http://127.0.0.1:8003/docs",
    "status board": "http://127.0.0.1:8004/api/docs",
    "status board admin": "http://127.0.0.1:8014/docs",
}
# Variable: (default, a value to set, what the setting then holds).
VARIABLES: dict[str, tuple[Any, str, Any]] = {
    "ENVIRONMENT": ("local", "production", "production"),
    "KAFKA_BOOTSTRAP_SERVERS": ("127.0.0.1:9092", "kafka:9092", "kafka:9092"),
    "MONGO_URL": (LOCAL_MONGO, "mongodb://db:27017", "mongodb://db:27017"),
    "SMTP_HOST": ("127.0.0.1", "mail", "mail"),
    "SMTP_PORT": (1025, "25", 25),
    "TOPIC_NAMESPACE": ("", "drill", "drill"),
    "LOG_LEVEL": ("INFO", "DEBUG", "DEBUG"),
    "LOG_FORMAT": ("json", "text", "text"),
    "SERVICE_NAME": ("routing", "routing-b", "routing-b"),
    "HTTP_HOST": ("127.0.0.1", "0.0.0.0", "0.0.0.0"),
    "ROUTING_PORT": (8002, "9002", 9002),
    "ROUTING_MONGO_DATABASE": ("routing", "routing_b", "routing_b"),
    "KAFKA_PARTITIONS": (6, "12", 12),
    "HTTP_MAX_HEAD_BYTES": (32768, "65536", 65536),
    "HTTP_HEAD_TIMEOUT_S": (10.0, "5", 5.0),
    "HTTP_BODY_TIMEOUT_S": (20.0, "30", 30.0),
    "HTTP_BODY_MIN_RATE": (8192, "1024", 1024),
    "ROUTING_ASSIGNMENT": ("round_robin", "least_loaded", "least_loaded"),
    "ROUTING_HOLIDAY_COUNTRY": ("US", "CA", "CA"),
    "ROUTING_HOLIDAY_SUBDIVISION": (None, "TX", "TX"),
    "ROUTING_REMIND_BEFORE": (2, "3", 3),
    "ROUTING_TIMER_INTERVAL": (30.0, "2", 2.0),
    "ROUTING_REPLICA_ID": ("0", "1", "1"),
    "ROUTING_BATCH_MAX": (500, "10", 10),
    "ROUTING_POLL_TIMEOUT_MS": (100, "50", 50),
    "ROUTING_FAULT_EXIT_AFTER_BATCHES": (None, "6", 6),
    "ROUTING_FETCH_MAX_WAIT_MS": (20, "5", 5),
    "ROUTING_PIPELINE": (False, "true", True),
    "ROUTING_PRODUCER_RETRY_BACKOFF_MS": (20, "40", 40),
    "ROUTING_STALL_AFTER_SECONDS": (30.0, "60", 60.0),
    "ROUTING_CLOCK_OFFSET_FILE": (None, "/tmp/offset", "/tmp/offset"),
    "ROUTING_ROUTES_FILE": (None, "/etc/routes.json", "/etc/routes.json"),
    "ROUTING_SLA_FILE": (None, "/etc/sla.json", "/etc/sla.json"),
    "ROUTING_SLA_CLOCKS": (True, "false", False),
    "ROUTING_DOCS_URLS": (DOCS, '{"intake": "https://intake.example/docs"}', {
        "intake": "https://intake.example/docs"
    }),
    "ROUTING_INTAKE_URL": ("http://127.0.0.1:8001", "http://intake:8001", "http://intake:8001"),
    "ROUTING_URL": ("http://127.0.0.1:8002", "http://routing:8002", "http://routing:8002"),
    "ROUTING_STAFF_TOKEN": (None, "a-staff-token", "a-staff-token"),
}  # fmt: skip


def _plain(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _by_variable(settings: Settings) -> dict[str, Any]:
    """Each setting's value under the environment variable it is read from."""
    return {
        env_name(settings, name): _plain(getattr(settings, name))
        for name in type(settings).model_fields
    }


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment holding none of routing's variables."""
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_every_variable_and_its_default(clean_env: pytest.MonkeyPatch) -> None:
    """With nothing set, routing reads exactly these variables, with these defaults."""
    expected = {variable: default for variable, (default, _, _) in VARIABLES.items()}
    assert _by_variable(Settings()) == expected


def test_each_variable_is_read_under_its_name(clean_env: pytest.MonkeyPatch) -> None:
    """Setting each variable changes its setting: none was renamed by the prefix."""
    for variable, (_, raw, _) in VARIABLES.items():
        clean_env.setenv(variable, raw)
    expected = {variable: value for variable, (_, _, value) in VARIABLES.items()}
    # Production refuses well-known local secrets; these are deployment-like values.
    clean_env.setenv("MONGO_URL", "mongodb://routing:a-long-enough-password@db:27017")
    expected["MONGO_URL"] = "mongodb://routing:a-long-enough-password@db:27017"
    assert _by_variable(Settings()) == expected


def test_shared_names_win_and_mongo_database_is_routings_own(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """KAFKA_BOOTSTRAP_SERVERS wins over a ROUTING_ twin; MONGO_DATABASE is not routing's."""
    clean_env.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    clean_env.setenv("ROUTING_KAFKA_BOOTSTRAP_SERVERS", "elsewhere:9092")
    clean_env.setenv("MONGO_DATABASE", "portal")
    settings = Settings()
    assert (settings.kafka_bootstrap_servers, settings.mongo_database) == ("kafka:9092", "routing")
