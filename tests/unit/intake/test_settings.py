"""Intake's settings: every environment variable keeps its name and its default."""

from typing import Any

import pytest

from intake.settings import Settings
from shared.settings import env_name

MIB = 1024 * 1024
# Written out by hand: renaming a variable or changing a default must change this table too.
VARIABLES: dict[str, Any] = {
    "ENVIRONMENT": "local",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
    "MONGO_URL": "mongodb://127.0.0.1:27017/?directConnection=true&retryWrites=false",
    "SMTP_HOST": "127.0.0.1",
    "SMTP_PORT": 1025,
    "TOPIC_NAMESPACE": "",
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": "json",
    "SERVICE_NAME": "intake",
    "HTTP_HOST": "127.0.0.1",
    "KAFKA_PARTITIONS": 6,
    "HTTP_MAX_HEAD_BYTES": 32768,
    "HTTP_HEAD_TIMEOUT_S": 10.0,
    "HTTP_BODY_TIMEOUT_S": 20.0,
    "HTTP_BODY_MIN_RATE": 8192,
    "INTAKE_PORT": 8001,
    "INTAKE_MONGO_DATABASE": "intake",
    "INTAKE_SEED_FILE": None,
    "INTAKE_PUBLISH_TIMEOUT_MS": 2000,
    "INTAKE_LINGER_MS": 2,
    "INTAKE_RATE_PER_SECOND": 50.0,
    "INTAKE_RATE_BURST": 100,
    "INTAKE_STARTUP_WAIT_SECONDS": 10.0,
    "INTAKE_DOCS_URLS": {
        "intake": "http://127.0.0.1:8001/docs",
        "routing": "http://127.0.0.1:8002/docs",
        "feed": "http://127.0.0.1:8003/docs",
        "status board": "http://127.0.0.1:8004/api/docs",
        "status board admin": "http://127.0.0.1:8014/docs",
    },
    "CASE_NUMBER_BLOCK": 100,
    "CASE_NUMBER_START": 1000000,
    "MAX_JSON_BYTES": 262144,
    "MAX_ATTACHMENT_BYTES": 15 * MIB,
    "MAX_ATTACHMENTS": 10,
    "MULTIPART_OVERHEAD_BYTES": 1 * MIB,
    "KAFKA_RETRY_SECONDS": 2.0,
    "FEED_PUBLIC_URL": "http://127.0.0.1:8003",
    "INBOUND_SMTP_HOST": "127.0.0.1",
    "INBOUND_SMTP_PORT": 2525,
    "INTAKE_INBOUND_PORT": 8011,
    "INTAKE_INBOUND_MAX_MESSAGE_BYTES": 50 * MIB,
    "INTAKE_INBOUND_RATE_PER_MINUTE": 10.0,
    "INTAKE_INBOUND_RATE_BURST": 20,
    "INTAKE_INBOUND_OWN_ADDRESSES": [],
    "MAIL_REPLY_KEY": "local-mail-reply-key",
    "INTAKE_MAIL_FROM": "support@support-portal.local",
    "INTAKE_MAIL_DOMAIN": "support-portal.local",
    "INTAKE_PORTAL_URL": "http://127.0.0.1:8000",
}


def _value(value: Any) -> Any:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No variable of the table is set, so the defaults show."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_every_variable_and_its_default(clean_env: pytest.MonkeyPatch) -> None:
    """Each field is read from the variable the table names, with the default it lists."""
    settings = Settings()
    found = {
        env_name(settings, name): _value(getattr(settings, name)) for name in Settings.model_fields
    }
    assert found == VARIABLES


def test_each_variable_is_read_under_its_name(clean_env: pytest.MonkeyPatch) -> None:
    """A prefixed, a kept-unprefixed and a shared variable each reach their field."""
    clean_env.setenv("INTAKE_RATE_BURST", "7")
    clean_env.setenv("INTAKE_PORT", "9101")
    clean_env.setenv("CASE_NUMBER_BLOCK", "8")
    clean_env.setenv("FEED_PUBLIC_URL", "https://feed.example")
    clean_env.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9092")
    clean_env.setenv("INTAKE_DOCS_URLS", '{"feed": "https://feed.example/docs"}')
    settings = Settings()
    assert (settings.rate_burst, settings.http_port, settings.case_number_block) == (7, 9101, 8)
    assert settings.feed_public_url == "https://feed.example"
    assert settings.kafka_bootstrap_servers == "kafka.example:9092"
    assert settings.docs_urls == {"feed": "https://feed.example/docs"}


def test_the_prefix_never_reaches_a_named_variable(clean_env: pytest.MonkeyPatch) -> None:
    """INTAKE_KAFKA_BOOTSTRAP_SERVERS and INTAKE_CASE_NUMBER_BLOCK are no settings of intake."""
    clean_env.setenv("INTAKE_KAFKA_BOOTSTRAP_SERVERS", "elsewhere:9092")
    clean_env.setenv("INTAKE_CASE_NUMBER_BLOCK", "8")
    settings = Settings()
    assert (settings.kafka_bootstrap_servers, settings.case_number_block) == (
        "127.0.0.1:9092",
        100,
    )


def test_fields_are_given_by_name_in_code() -> None:
    """Tests and tools build settings by field name, the prefixed and the named ones alike."""
    settings = Settings(rate_burst=3, http_port=9102, kafka_bootstrap_servers="k:1")
    assert (settings.rate_burst, settings.http_port, settings.kafka_bootstrap_servers) == (
        3,
        9102,
        "k:1",
    )
