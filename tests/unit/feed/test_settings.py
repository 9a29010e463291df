"""The feed's settings: every environment variable it reads and its default, written out by hand."""

from typing import Any

import pytest
from pydantic import SecretStr

from feed.settings import Settings
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
    "MONGO_URL": (LOCAL_MONGO, "mongodb://feed:a-long-enough-password@db:27017",
                  "mongodb://feed:a-long-enough-password@db:27017"),
    "SMTP_HOST": ("127.0.0.1", "mail", "mail"),
    "SMTP_PORT": (1025, "25", 25),
    "TOPIC_NAMESPACE": ("", "drill", "drill"),
    "LOG_LEVEL": ("INFO", "DEBUG", "DEBUG"),
    "LOG_FORMAT": ("json", "text", "text"),
    "SERVICE_NAME": ("feed", "feed-b", "feed-b"),
    "HTTP_HOST": ("127.0.0.1", "0.0.0.0", "0.0.0.0"),
    "FEED_PORT": (8003, "9003", 9003),
    "FEED_MONGO_DATABASE": ("feed", "feed_b", "feed_b"),
    "KAFKA_PARTITIONS": (6, "12", 12),
    "HTTP_MAX_HEAD_BYTES": (32768, "65536", 65536),
    "HTTP_HEAD_TIMEOUT_S": (10.0, "5", 5.0),
    "HTTP_BODY_TIMEOUT_S": (20.0, "30", 30.0),
    "HTTP_BODY_MIN_RATE": (8192, "1024", 1024),
    "STATUS_BOARD_URL": ("http://127.0.0.1:8004", "https://status.example",
                         "https://status.example"),
    "FEED_LIVE_BATCH": (2000, "500", 500),
    "FEED_LIVE_WAIT_MS": (20, "200", 200),
    "FEED_REBUILD_BATCH": (2000, "100", 100),
    "FEED_SUBJECTS_DEFERRED": (True, "false", False),
    "FEED_SUBJECTS_BATCH": (500, "50", 50),
    "FEED_OUTCOME_POLL_SECONDS": (0.5, "2", 2.0),
    "FEED_DOCS_URLS": (DOCS, '{"intake": "https://intake.example/docs"}', {
        "intake": "https://intake.example/docs"
    }),
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
    """An environment holding none of the feed's variables."""
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_every_variable_and_its_default(clean_env: pytest.MonkeyPatch) -> None:
    """With nothing set, the feed reads exactly these variables, with these defaults."""
    expected = {variable: default for variable, (default, _, _) in VARIABLES.items()}
    assert _by_variable(Settings()) == expected


def test_each_variable_is_read_under_its_name(clean_env: pytest.MonkeyPatch) -> None:
    """Setting each variable changes its setting: none was renamed by the prefix."""
    for variable, (_, raw, _) in VARIABLES.items():
        clean_env.setenv(variable, raw)
    expected = {variable: value for variable, (_, _, value) in VARIABLES.items()}
    assert _by_variable(Settings()) == expected


def test_prefixed_names_of_shared_settings_are_not_read(clean_env: pytest.MonkeyPatch) -> None:
    """FEED_KAFKA_BOOTSTRAP_SERVERS, FEED_HTTP_PORT and MONGO_DATABASE are not feed variables."""
    clean_env.setenv("FEED_KAFKA_BOOTSTRAP_SERVERS", "elsewhere:9092")
    clean_env.setenv("FEED_HTTP_PORT", "9999")
    clean_env.setenv("MONGO_DATABASE", "portal")
    clean_env.setenv("FEED_STATUS_BOARD_URL", "https://elsewhere.example")
    settings = Settings()
    assert (
        settings.kafka_bootstrap_servers,
        settings.http_port,
        settings.mongo_database,
        settings.status_board_url,
    ) == ("127.0.0.1:9092", 8003, "feed", "http://127.0.0.1:8004")


def test_settings_are_given_by_field_name_in_code() -> None:
    """Tests and tools build settings by field name, aliased or not."""
    settings = Settings(http_port=9103, live_batch=7, outcome_poll_s=60.0, topic_namespace="t")
    assert (settings.http_port, settings.live_batch, settings.outcome_poll_s) == (9103, 7, 60.0)
    assert settings.topics.case_events == "t.case.events"
