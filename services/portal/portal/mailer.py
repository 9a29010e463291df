"""Sending the one-time sign-in mail over SMTP (STARTTLS or TLS and a login, as configured)."""

from email.message import EmailMessage

import aiosmtplib

from portal.settings import Settings
from shared.smtp import SmtpSecurity


class Mailer:
    """Sends a plain-text mail through the configured SMTP relay."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.access = settings.smtp_access()

    async def send(self, to: str, subject: str, text: str) -> None:
        """Send one message; raises aiosmtplib's errors when the relay refuses."""
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        access = self.access
        password = access.password.get_secret_value() if access.password else None
        # start_tls=True: a relay that does not offer STARTTLS is refused, never sent to in clear.
        await aiosmtplib.send(
            message,
            hostname=self.settings.smtp_host,
            port=self.settings.smtp_port,
            use_tls=access.security is SmtpSecurity.TLS,
            start_tls=access.security is SmtpSecurity.STARTTLS,
            tls_context=access.tls,
            username=access.username,
            password=password,
            timeout=self.settings.smtp_timeout,
        )
