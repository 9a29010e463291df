"""How a process reaches its SMTP relay: the session's protection, certificate checks and login.

Notify's mail and the portal's sign-in links go through the same kind of relay, so both read
the same settings (under their own prefix: NOTIFY_SMTP_SECURITY, PORTAL_SMTP_SECURITY, ...).
"""

import ssl
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator

from shared.settings import InfraSettings, env_name, refuse_local_secrets


class SmtpSecurity(StrEnum):
    """How the SMTP session is protected: not at all, STARTTLS (required), or TLS from the start."""

    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


@dataclass(frozen=True)
class SmtpAccess:
    """How a session is opened: its protection, the certificate checks, and the login (if any)."""

    security: SmtpSecurity = SmtpSecurity.NONE
    username: str | None = None
    password: SecretStr | None = None
    tls: ssl.SSLContext | None = None  # None: the system's trust store, hostname checked


def tls_context(ca_file: str | None = None, *, verify: bool = True) -> ssl.SSLContext:
    """A client TLS context: the system's CAs (or `ca_file`'s), hostname checked unless not
    `verify` (then any certificate is taken: the session is encrypted, not authenticated)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class SmtpClientSettings(InfraSettings):
    """The relay's protection and login (SMTP_HOST and SMTP_PORT say where it is).

    Mixed into a service's settings, whose prefix applies:
    `class Settings(ServiceSettings, SmtpClientSettings)`.
    """

    smtp_security: SmtpSecurity = Field(
        SmtpSecurity.NONE,
        description=(
            "none (plain SMTP, the local sink), starttls (upgrade required: a server that does "
            "not offer it is never sent to in clear) or tls (implicit TLS, usually port 465)."
        ),
    )
    smtp_username: str | None = Field(
        None, description="SMTP login (AUTH); set together with the password, or neither."
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
    smtp_timeout: float = Field(10.0, gt=0)

    @field_validator("smtp_username", "smtp_password", "smtp_ca_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _smtp_login_is_whole(self) -> Self:
        """Username and password come together; TLS files exist; production refuses a
        local password and a login sent in clear."""
        user, password = env_name(self, "smtp_username"), env_name(self, "smtp_password")
        has_user, has_password = self.smtp_username is not None, self.smtp_password is not None
        if has_user != has_password:
            given, missing = (user, password) if has_user else (password, user)
            raise ValueError(
                f"{given} is set but {missing} is not: set both to log in to the SMTP server, "
                "or neither to send without a login"
            )
        if self.smtp_ca_file is not None and not self.smtp_ca_file.is_file():
            ca_file = env_name(self, "smtp_ca_file")
            raise ValueError(f"{ca_file} {str(self.smtp_ca_file)!r} is not a file")
        if has_user:
            if self.environment == "production" and self.smtp_security is SmtpSecurity.NONE:
                security = env_name(self, "smtp_security")
                raise ValueError(
                    f"ENVIRONMENT=production refuses to start: {user} with {security}=none "
                    "would send the SMTP password in clear; use starttls or tls"
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
