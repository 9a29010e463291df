"""Settings of the notify service; every field has a local default."""

import re
from typing import Self

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from notify.logic import Threading
from shared.settings import (
    LOCAL_DOCS_URLS,
    ServiceSettings,
    named,
    refuse_local_secrets,
    service_config,
)
from shared.smtp import SmtpClientSettings

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")  # a host name, as a reply address needs


class Settings(ServiceSettings, SmtpClientSettings):
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

    @field_validator("receipts_url")
    @classmethod
    def _has_placeholder(cls, url: str | None) -> str | None:
        if url is not None and "{message_id}" not in url:
            raise ValueError(
                "NOTIFY_RECEIPTS_URL must contain {message_id}, e.g. "
                "http://127.0.0.1:8025/api/messages?message_id={message_id}"
            )
        return url or None
