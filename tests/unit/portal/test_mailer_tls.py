"""The portal's sign-in mail through a relay that requires STARTTLS or TLS, and a login."""

from collections.abc import Iterator
from pathlib import Path

import aiosmtplib
import pytest
from portal.mailer import Mailer
from portal.settings import Settings

from tests.integration.notify.tls_sink import (
    PASSWORD,
    QUIET,
    USERNAME,
    Sinks,
    TlsAuthSink,
    self_signed,
)

pytestmark = QUIET
TO = "zack.morris@bayside.example"


@pytest.fixture
def sinks(tmp_path: Path) -> Iterator[Sinks]:
    """The TLS+AUTH servers a test starts, on a certificate made for it; all stopped at the end."""
    made = Sinks(tmp_path)
    yield made
    made.stop_all()


def _mailer(sink: TlsAuthSink, security: str, *, ca_file: Path | None = None) -> Mailer:
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        smtp_security=security,
        smtp_username=USERNAME,
        smtp_password=PASSWORD,
        smtp_ca_file=ca_file or sink.cert,
        smtp_timeout=5,
    )
    return Mailer(settings)


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_sign_in_link_goes_encrypted_and_logged_in(sinks: Sinks, mode: str) -> None:
    """STARTTLS and implicit TLS both deliver the link, encrypted, from the logged-in user."""
    sink = sinks.start(mode)
    await _mailer(sink, mode).send(TO, "Your sign-in link", "https://portal.example/link")
    assert [(d.recipient, d.encrypted, d.login) for d in sink.received] == [(TO, True, USERNAME)]


async def test_a_relay_without_starttls_gets_nothing(sinks: Sinks) -> None:
    """Required STARTTLS that the relay does not offer: refused before any login or mail."""
    sink = sinks.start("plain")
    with pytest.raises(aiosmtplib.SMTPException, match="STARTTLS"):
        await _mailer(sink, "starttls").send(TO, "Your sign-in link", "a link")
    assert (sink.received, sink.logins) == ([], [])


async def test_an_untrusted_certificate_gets_nothing(sinks: Sinks, tmp_path: Path) -> None:
    """A certificate not signed by the configured CA is refused: no mail, no password sent."""
    sink = sinks.start("tls")
    (tmp_path / "other").mkdir()
    other_cert, _ = self_signed(tmp_path / "other")
    with pytest.raises(aiosmtplib.SMTPConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await _mailer(sink, "tls", ca_file=other_cert).send(TO, "Your sign-in link", "a link")
    assert (sink.received, sink.logins) == ([], [])
