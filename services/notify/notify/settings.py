"""Settings of the notify service; every field has a local default."""

import re
from pathlib import Path
from typing import Self

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from notify.logic import Threading
from notify.mailer import SmtpAccess, SmtpSecurity, tls_context
from shared.settings import (
    LOCAL_DOCS_URLS,
    ServiceSettings,
    named,
    refuse_local_secrets,
    service_config,
)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")  # a host name, as a reply address needs


class Settings(ServiceSettings):
    """Notify settings, from the environment: its own as NOTIFY_<FIELD>."""

    model_config = service_config("NOTIFY_")

    service_name: str = "notify"
    # NOTIFY_PORT, as every service's port is <SERVICE>_PORT (the prefix would make it
    # NOTIFY_HTTP_PORT); `http_port` keeps Settings(http_port=...) working.
    http_port: int = Field(8005, validation_alias=named("NOTIFY_PORT", "http_port"))
    mongo_database: str = "notify"
    mail_from: str = Field(
        "support@support-portal.local",
        description="Envelope sender and From address.",
    )
    mail_from_name: str = "Campus Support"
    mail_domain: str = Field(
        "support-portal.local",
        description="Right-hand side of every Message-ID.",
    )
    portal_url: str = Field(
        "http://127.0.0.1:8000",
        description="Base URL of the Support Portal; every case mail links to its "
        "/cases/{number} page there.",
    )
    reply_key: SecretStr = Field(
        SecretStr("local-mail-reply-key"),
        validation_alias=named("MAIL_REPLY_KEY", "reply_key"),
        description="Key signing Message-IDs and reply addresses (shared.replies); intake "
        "verifies replies with the same key, so both read MAIL_REPLY_KEY.",
    )
    reply_domain: str | None = Field(
        None,
        description="Domain of the reply addresses (Reply-To: case+<token>@<domain>), the "
        "one whose mail reaches intake's listener; unset, NOTIFY_MAIL_DOMAIN.",
    )
    smtp_connections: int = Field(
        4,
        ge=1,
        description="SMTP connections kept open; recipients of one event are sent in parallel.",
    )
    smtp_security: SmtpSecurity = Field(
        SmtpSecurity.NONE,
        description=(
            "none (plain SMTP, the local sink), starttls (upgrade required: a server that does "
            "not offer it is never sent to in clear) or tls (implicit TLS, usually port 465)."
        ),
    )
    smtp_username: str | None = Field(
        None,
        description="SMTP login (AUTH); set together with NOTIFY_SMTP_PASSWORD, or neither.",
    )
    smtp_password: SecretStr | None = None
    smtp_ca_file: Path | None = Field(
        None,
        description="PEM file of the CA(s) the server's certificate is checked against "
        "(a private CA); unset, the system's trust store.",
    )
    smtp_verify: bool = Field(
        True,
        description="Check the server's certificate and host name; false only for a test server.",
    )
    smtp_timeout: float = 10.0
    smtp_data_timeout: float = Field(
        120.0,
        description="Wait for the reply to the end of data: a slow server's mail is in doubt.",
    )
    smtp_attempts: int = Field(
        3,
        ge=1,
        description="Tries per mail before a 4xx is dead-lettered or a connection fault defers.",
    )
    directory_grace_seconds: float = Field(
        30.0,
        description=(
            "How long an unknown recipient of a case event is waited for before it is skipped, "
            "and how long a notice with nobody to mail stays parked (counted from when notify "
            "parked it; it never holds back the notices after it)."
        ),
    )
    max_mail_age_hours: float = Field(
        168.0,
        description="Older events update views but send no mail (a replay never spams).",
    )
    batch_size: int = Field(
        200,
        ge=1,
        description="Case events taken per poll; committed together once all are mailed.",
    )
    case_concurrency: int = Field(
        8,
        ge=1,
        description="Cases of one batch worked on at once (each case's events stay in order).",
    )
    claim_lease_seconds: float = Field(
        15.0,
        gt=0,
        description="How long a mail's claim outlives its sender; renewed every third of it.",
    )
    receipts_url: str | None = Field(
        None,
        description=(
            "Mail store lookup by Message-ID, with {message_id} (and optionally {recipient}) "
            "in it, e.g. the local mailbox's "
            "/api/messages?message_id={message_id}&to={recipient}. Asked before a mail whose end "
            "of data may have arrived is sent again; unset, such a mail is resent (same "
            "Message-ID) and counted in doubt."
        ),
    )

    docs_urls: dict[str, str] = Field(
        default_factory=lambda: dict(LOCAL_DOCS_URLS),
        description="The services' API docs (a JSON object), linked from notify's docs page.",
    )

    @field_validator("smtp_username", "smtp_password", "smtp_ca_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("reply_domain")
    @classmethod
    def _is_a_domain(cls, domain: str | None) -> str | None:
        """A reply address must be mailable as it is: a bad domain would refuse every mail."""
        if domain is not None and not _DOMAIN.fullmatch(domain):
            raise ValueError(
                f"NOTIFY_REPLY_DOMAIN {domain[:80]!r} is not a domain name; give one like "
                "replies.example.org (letters, digits, dots and hyphens)"
            )
        return domain

    @model_validator(mode="after")
    def _reply_key_is_real(self) -> Self:
        """Production refuses the local reply key: with it anyone could forge a reply."""
        refuse_local_secrets(self, ("reply_key",))
        return self

    def threading(self) -> Threading:
        """How case mail is signed and answered (Message-IDs, reply addresses)."""
        domain = self.reply_domain or self.mail_domain
        return Threading(self.reply_key, self.mail_domain, domain)

    @model_validator(mode="after")
    def _smtp_login_is_whole(self) -> Self:
        """Username and password come together; TLS files exist; production refuses a
        local password and a login sent in clear."""
        has_user, has_password = self.smtp_username is not None, self.smtp_password is not None
        if has_user != has_password:
            given, missing = (
                ("NOTIFY_SMTP_USERNAME", "NOTIFY_SMTP_PASSWORD")
                if has_user
                else ("NOTIFY_SMTP_PASSWORD", "NOTIFY_SMTP_USERNAME")
            )
            raise ValueError(
                f"{given} is set but {missing} is not: set both to log in to the SMTP server, "
                "or neither to send without a login"
            )
        if self.smtp_ca_file is not None and not self.smtp_ca_file.is_file():
            raise ValueError(f"NOTIFY_SMTP_CA_FILE {str(self.smtp_ca_file)!r} is not a file")
        if has_user:
            if self.environment == "production" and self.smtp_security is SmtpSecurity.NONE:
                raise ValueError(
                    "ENVIRONMENT=production refuses to start: NOTIFY_SMTP_USERNAME with "
                    "NOTIFY_SMTP_SECURITY=none would send the SMTP password in clear; use "
                    "starttls or tls"
                )
            refuse_local_secrets(self, ("smtp_password",))
        return self

    def smtp_access(self) -> SmtpAccess:
        """How the mailer opens its sessions: protection, certificate checks, login."""
        secured = self.smtp_security is not SmtpSecurity.NONE
        ca_file = str(self.smtp_ca_file) if self.smtp_ca_file else None
        return SmtpAccess(
            security=self.smtp_security,
            username=self.smtp_username,
            password=self.smtp_password,
            tls=tls_context(ca_file, verify=self.smtp_verify) if secured else None,
        )

    @field_validator("receipts_url")
    @classmethod
    def _has_placeholder(cls, url: str | None) -> str | None:
        if url is not None and "{message_id}" not in url:
            raise ValueError(
                "NOTIFY_RECEIPTS_URL must contain {message_id}, e.g. "
                "http://127.0.0.1:8025/api/messages?message_id={message_id}"
            )
        return url or None
