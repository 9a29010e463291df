"""Every variable notify reads, by name and default, so a rename or a new default fails here."""

from pathlib import Path

import pytest
from pydantic import SecretStr

from notify.settings import Settings
from shared.settings import LOCAL_MONGO_URL, env_name
from shared.smtp import SmtpSecurity

DOCS = {
    "intake": "http://127.0.0.1:8001/docs",
    "routing": "http://127.0.0.1:8002/docs",
    "feed": "http://127.0.0.1:8003/docs",
    "status board": "http://127.0.0.1:8004/api/docs",
    "status board admin": "http://127.0.0.1:8014/docs",
}
# Written out by hand: the variable of every field and its local default.
EXPECTED: dict[str, object] = {
    "ENVIRONMENT": "local",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
    "MONGO_URL": LOCAL_MONGO_URL,
    "SMTP_HOST": "127.0.0.1",
    "SMTP_PORT": 1025,
    "TOPIC_NAMESPACE": "",
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": "json",
    "SERVICE_NAME": "notify",
    "HTTP_HOST": "127.0.0.1",
    "NOTIFY_PORT": 8005,
    "NOTIFY_MONGO_DATABASE": "notify",
    "KAFKA_PARTITIONS": 6,
    "HTTP_MAX_HEAD_BYTES": 32768,
    "HTTP_HEAD_TIMEOUT_S": 10.0,
    "HTTP_BODY_TIMEOUT_S": 20.0,
    "HTTP_BODY_MIN_RATE": 8192,
    "NOTIFY_MAIL_FROM": "support@support-portal.local",
    "NOTIFY_MAIL_FROM_NAME": "Campus Support",
    "NOTIFY_MAIL_DOMAIN": "support-portal.local",
    "NOTIFY_PORTAL_URL": "http://127.0.0.1:8000",
    "MAIL_REPLY_KEY": "local-mail-reply-key",
    "NOTIFY_REPLY_DOMAIN": None,
    "NOTIFY_SMTP_CONNECTIONS": 4,
    "NOTIFY_SMTP_SECURITY": "none",
    "NOTIFY_SMTP_USERNAME": None,
    "NOTIFY_SMTP_PASSWORD": None,
    "NOTIFY_SMTP_CA_FILE": None,
    "NOTIFY_SMTP_VERIFY": True,
    "NOTIFY_SMTP_TIMEOUT": 10.0,
    "NOTIFY_SMTP_DATA_TIMEOUT": 120.0,
    "NOTIFY_SMTP_ATTEMPTS": 3,
    "NOTIFY_DIRECTORY_GRACE_SECONDS": 30.0,
    "NOTIFY_MAX_MAIL_AGE_HOURS": 168.0,
    "NOTIFY_BATCH_SIZE": 200,
    "NOTIFY_CASE_CONCURRENCY": 8,
    "NOTIFY_CLAIM_LEASE_SECONDS": 15.0,
    "NOTIFY_RECEIPTS_URL": None,
    "NOTIFY_DOCS_URLS": DOCS,
}
# A value for each variable other than its default, and the value the field then holds.
GIVEN: dict[str, tuple[str, object]] = {
    "ENVIRONMENT": ("production", "production"),
    "KAFKA_BOOTSTRAP_SERVERS": ("kafka.example:9093", "kafka.example:9093"),
    "MONGO_URL": (
        "mongodb://mongo.example:27017/?tls=true",
        "mongodb://mongo.example:27017/?tls=true",
    ),
    "SMTP_HOST": ("smtp.example.org", "smtp.example.org"),
    "SMTP_PORT": ("587", 587),
    "TOPIC_NAMESPACE": ("t1", "t1"),
    "LOG_LEVEL": ("DEBUG", "DEBUG"),
    "LOG_FORMAT": ("text", "text"),
    "SERVICE_NAME": ("notify-b", "notify-b"),
    "HTTP_HOST": ("0.0.0.0", "0.0.0.0"),
    "NOTIFY_PORT": ("9005", 9005),
    "NOTIFY_MONGO_DATABASE": ("notify_b", "notify_b"),
    "KAFKA_PARTITIONS": ("3", 3),
    "HTTP_MAX_HEAD_BYTES": ("4096", 4096),
    "HTTP_HEAD_TIMEOUT_S": ("5", 5.0),
    "HTTP_BODY_TIMEOUT_S": ("7", 7.0),
    "HTTP_BODY_MIN_RATE": ("1024", 1024),
    "NOTIFY_MAIL_FROM": ("help@district.example", "help@district.example"),
    "NOTIFY_MAIL_FROM_NAME": ("Help Desk", "Help Desk"),
    "NOTIFY_MAIL_DOMAIN": ("district.example", "district.example"),
    "NOTIFY_PORTAL_URL": ("https://support.district.example", "https://support.district.example"),
    "MAIL_REPLY_KEY": ("a-long-production-reply-key", "a-long-production-reply-key"),
    "NOTIFY_REPLY_DOMAIN": ("replies.district.example", "replies.district.example"),
    "NOTIFY_SMTP_CONNECTIONS": ("2", 2),
    "NOTIFY_SMTP_SECURITY": ("starttls", "starttls"),
    "NOTIFY_SMTP_USERNAME": ("support-portal", "support-portal"),
    "NOTIFY_SMTP_PASSWORD": ("a-long-production-password", "a-long-production-password"),
    "NOTIFY_SMTP_CA_FILE": ("{ca}", "{ca}"),
    "NOTIFY_SMTP_VERIFY": ("false", False),
    "NOTIFY_SMTP_TIMEOUT": ("3", 3.0),
    "NOTIFY_SMTP_DATA_TIMEOUT": ("600", 600.0),
    "NOTIFY_SMTP_ATTEMPTS": ("5", 5),
    "NOTIFY_DIRECTORY_GRACE_SECONDS": ("60", 60.0),
    "NOTIFY_MAX_MAIL_AGE_HOURS": ("24", 24.0),
    "NOTIFY_BATCH_SIZE": ("50", 50),
    "NOTIFY_CASE_CONCURRENCY": ("2", 2),
    "NOTIFY_CLAIM_LEASE_SECONDS": ("30", 30.0),
    "NOTIFY_RECEIPTS_URL": (
        "http://mail.example/m?id={message_id}",
        "http://mail.example/m?id={message_id}",
    ),
    "NOTIFY_DOCS_URLS": (
        '{"intake": "https://intake.example/docs"}',
        {"intake": "https://intake.example/docs"},
    ),
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of these variables is set, whatever the shell running the tests has."""
    for name in EXPECTED:
        monkeypatch.delenv(name, raising=False)


def _read(settings: Settings) -> dict[str, object]:
    """Each field's value under the variable it is read from."""
    return {env_name(settings, n): _plain(getattr(settings, n)) for n in Settings.model_fields}


def _plain(value: object) -> object:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    return value.value if isinstance(value, SmtpSecurity) else value


def test_every_variable_and_its_default() -> None:
    """The settings read exactly these variables, with these local defaults."""
    assert _read(Settings()) == EXPECTED


def test_each_variable_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Setting every variable changes every field: the names above are the ones really read."""
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    for name, (raw, _) in GIVEN.items():
        monkeypatch.setenv(name, raw.replace("{ca}", str(ca)))
    expected = {n: str(ca) if v == "{ca}" else v for n, (_, v) in GIVEN.items()}
    assert _read(Settings()) == expected


@pytest.mark.parametrize(
    "name", ["NOTIFY_SMTP_HOST", "NOTIFY_KAFKA_BOOTSTRAP_SERVERS", "NOTIFY_HTTP_PORT", "BATCH_SIZE"]
)
def test_no_other_spelling_is_read(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Common settings are not read with notify's prefix, nor notify's own without it."""
    monkeypatch.setenv(name, "7")
    assert _read(Settings()) == EXPECTED


def test_fields_are_still_given_by_name() -> None:
    """Tests and tools build settings by field name, whatever the variables are called."""
    settings = Settings(http_port=9105, smtp_host="relay.example", batch_size=9)
    assert (settings.http_port, settings.smtp_host, settings.batch_size) == (
        9105,
        "relay.example",
        9,
    )


@pytest.mark.parametrize("domain", ["replies example.org", "evil.example>, x@y", "a\r\nBcc: x"])
def test_a_reply_domain_that_is_no_domain_is_refused(
    monkeypatch: pytest.MonkeyPatch, domain: str
) -> None:
    """NOTIFY_REPLY_DOMAIN must be a plain domain name: anything else refuses to start."""
    monkeypatch.setenv("NOTIFY_REPLY_DOMAIN", domain)
    with pytest.raises(ValueError, match=r"NOTIFY_REPLY_DOMAIN .* is not a domain name"):
        Settings()


def test_reply_addresses_use_the_reply_domain_or_else_the_mail_domain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unset, replies go to NOTIFY_MAIL_DOMAIN; set, to NOTIFY_REPLY_DOMAIN."""
    monkeypatch.setenv("NOTIFY_MAIL_DOMAIN", "district.example")
    assert Settings().threading().reply_domain == "district.example"
    monkeypatch.setenv("NOTIFY_REPLY_DOMAIN", "replies.district.example")
    threading = Settings().threading()
    assert threading.reply_domain == "replies.district.example"
    assert threading.domain == "district.example"
