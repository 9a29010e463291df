"""Sending the one-time sign-in mail over SMTP."""

from email.message import EmailMessage

import aiosmtplib

from portal.settings import Settings


class Mailer:
    """Sends a plain-text mail through the configured SMTP relay."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, to: str, subject: str, text: str) -> None:
        """Send one message; raises aiosmtplib's errors when the relay refuses."""
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        await aiosmtplib.send(
            message,
            hostname=self.settings.smtp_host,
            port=self.settings.smtp_port,
            timeout=10,
        )
