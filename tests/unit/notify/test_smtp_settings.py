"""Notify's SMTP login and TLS settings: read from the environment, checked at start-up."""

import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from notify.settings import Settings
from shared.smtp import SmtpSecurity

REAL_MONGO = "mongodb://notify:a-real-deployment-secret@db.example.org/"
REAL_PASSWORD = "a-long-mail-relay-password"
REAL_REPLY_KEY = "a-long-deployment-reply-key"
SMTP_VARS = (
    "MAIL_REPLY_KEY",
    "NOTIFY_SMTP_USERNAME",
    "NOTIFY_SMTP_PASSWORD",
    "NOTIFY_SMTP_SECURITY",
    "NOTIFY_SMTP_CA_FILE",
    "NOTIFY_SMTP_VERIFY",
    "ENVIRONMENT",
    "MONGO_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SMTP setting leaks in from the machine's environment."""
    for name in SMTP_VARS:
        monkeypatch.delenv(name, raising=False)


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def _error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    with pytest.raises(ValidationError) as caught:
        _settings(monkeypatch, **env)
    return str(caught.value)


def test_defaults_are_plain_smtp_without_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without SMTP settings notify talks plain SMTP to the local sink, no login, no TLS."""
    settings = _settings(monkeypatch)
    access = settings.smtp_access()
    assert settings.smtp_security is SmtpSecurity.NONE
    assert settings.smtp_verify is True
    assert access.username is None
    assert access.password is None
    assert access.tls is None


def test_login_and_starttls_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The NOTIFY_SMTP_* variables set the login and STARTTLS; the password stays hidden."""
    settings = _settings(
        monkeypatch,
        NOTIFY_SMTP_USERNAME="relay",
        NOTIFY_SMTP_PASSWORD=REAL_PASSWORD,
        NOTIFY_SMTP_SECURITY="starttls",
    )
    access = settings.smtp_access()
    assert access.security is SmtpSecurity.STARTTLS
    assert access.username == "relay"
    assert access.password is not None
    assert access.password.get_secret_value() == REAL_PASSWORD
    assert REAL_PASSWORD not in repr(settings)
    assert REAL_PASSWORD not in repr(access)
    assert access.tls is not None
    assert access.tls.verify_mode == ssl.CERT_REQUIRED
    assert access.tls.check_hostname


def test_username_without_password_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A username alone refuses to start, naming the missing password."""
    message = _error(monkeypatch, NOTIFY_SMTP_USERNAME="relay")
    assert "NOTIFY_SMTP_USERNAME is set but NOTIFY_SMTP_PASSWORD is not" in message


def test_password_without_username_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A password alone refuses to start, naming the missing username, not echoing it."""
    message = _error(monkeypatch, NOTIFY_SMTP_PASSWORD=REAL_PASSWORD)
    assert "NOTIFY_SMTP_PASSWORD is set but NOTIFY_SMTP_USERNAME is not" in message


def test_unknown_security_lists_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    """A security mode other than none, starttls or tls is refused with the allowed values."""
    message = _error(monkeypatch, NOTIFY_SMTP_SECURITY="ssl")
    assert "'none', 'starttls' or 'tls'" in message


def test_missing_ca_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A CA file that does not exist refuses to start, naming the setting."""
    message = _error(monkeypatch, NOTIFY_SMTP_CA_FILE=str(tmp_path / "nope.pem"))
    assert "NOTIFY_SMTP_CA_FILE" in message
    assert "is not a file" in message


def test_verify_false_takes_any_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    """NOTIFY_SMTP_VERIFY=false turns off the certificate and host name checks."""
    settings = _settings(monkeypatch, NOTIFY_SMTP_SECURITY="tls", NOTIFY_SMTP_VERIFY="false")
    tls = settings.smtp_access().tls
    assert tls is not None
    assert tls.verify_mode == ssl.CERT_NONE
    assert not tls.check_hostname


def test_production_refuses_a_local_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """In production a local-… SMTP password refuses to start, naming the variable."""
    message = _error(
        monkeypatch,
        ENVIRONMENT="production",
        MONGO_URL=REAL_MONGO,
        MAIL_REPLY_KEY=REAL_REPLY_KEY,
        NOTIFY_SMTP_SECURITY="starttls",
        NOTIFY_SMTP_USERNAME="relay",
        NOTIFY_SMTP_PASSWORD="local-smtp-password",
    )
    assert "NOTIFY_SMTP_PASSWORD holds a well-known local value" in message


def test_production_refuses_a_login_in_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    """In production a login over NOTIFY_SMTP_SECURITY=none is refused (password in clear)."""
    message = _error(
        monkeypatch,
        ENVIRONMENT="production",
        MONGO_URL=REAL_MONGO,
        MAIL_REPLY_KEY=REAL_REPLY_KEY,
        NOTIFY_SMTP_USERNAME="relay",
        NOTIFY_SMTP_PASSWORD=REAL_PASSWORD,
    )
    assert "would send the SMTP password in clear" in message


def test_production_accepts_a_real_login_over_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    """In production a real password over implicit TLS starts."""
    settings = _settings(
        monkeypatch,
        ENVIRONMENT="production",
        MONGO_URL=REAL_MONGO,
        MAIL_REPLY_KEY=REAL_REPLY_KEY,
        NOTIFY_SMTP_SECURITY="tls",
        NOTIFY_SMTP_USERNAME="relay",
        NOTIFY_SMTP_PASSWORD=REAL_PASSWORD,
    )
    assert settings.smtp_access().security is SmtpSecurity.TLS


def test_production_without_login_still_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """In production a relay without login (no password) is not refused for the password."""
    env = {"ENVIRONMENT": "production", "MONGO_URL": REAL_MONGO, "MAIL_REPLY_KEY": REAL_REPLY_KEY}
    settings = _settings(monkeypatch, **env)
    assert settings.smtp_password is None


def test_production_refuses_the_local_reply_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """In production the local MAIL_REPLY_KEY (anyone could forge reply addresses with it)
    refuses to start, naming the variable."""
    message = _error(monkeypatch, ENVIRONMENT="production", MONGO_URL=REAL_MONGO)
    assert "MAIL_REPLY_KEY is not set" in message


def test_the_process_exits_with_a_plain_message(tmp_path: Path) -> None:
    """`python -m notify` with half a login exits 1 with one plain line, no traceback."""
    env = {"PATH": "/usr/bin:/bin", "NOTIFY_SMTP_USERNAME": "relay", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "notify"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "notify: not starting: NOTIFY_SMTP_USERNAME is set" in done.stderr
    assert "Traceback" not in done.stderr
