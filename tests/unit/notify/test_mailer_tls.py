"""The SMTP pool against an in-process aiosmtpd server with STARTTLS or TLS, and AUTH."""

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from pydantic import SecretStr

from notify.errors import MailDeferred
from notify.mailer import Mailer
from shared.smtp import SmtpAccess, SmtpSecurity, tls_context
from tests.integration.notify.tls_sink import PASSWORD, QUIET, USERNAME, Sinks, TlsAuthSink

pytestmark = QUIET
TO = "ann@test.invalid"


@pytest.fixture
def sinks(tmp_path: Path) -> Iterator[Sinks]:
    """The TLS+AUTH servers a test starts, on a certificate made for it; all stopped at the end."""
    made = Sinks(tmp_path)
    yield made
    made.stop_all()


def _mailer(sink: TlsAuthSink, security: str, password: str = PASSWORD) -> Mailer:
    context = tls_context(str(sink.cert))
    access = SmtpAccess(SmtpSecurity(security), USERNAME, SecretStr(password), context)
    return Mailer("127.0.0.1", sink.port, sender="s@test.invalid", access=access, connections=1,
                  attempts=2, base_delay=0.01)  # fmt: skip


def _mail() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "s@test.invalid", TO, "hi"
    message["Message-ID"] = "<m-1@test.invalid>"
    message.set_content("hello")
    return message


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_delivers_over_tls_logged_in(sinks: Sinks, mode: str) -> None:
    """STARTTLS and implicit TLS both deliver, encrypted, from the logged-in user."""
    sink = sinks.start(mode)
    mailer = _mailer(sink, mode)
    await mailer.send(_mail(), TO)
    await mailer.aclose()
    assert [(d.recipient, d.encrypted, d.login) for d in sink.received] == [(TO, True, USERNAME)]


async def test_missing_starttls_defers_and_sends_nothing(sinks: Sinks) -> None:
    """A server without STARTTLS gets no mail and no login: the mail is deferred."""
    sink = sinks.start("plain")
    mailer = _mailer(sink, "starttls")
    with pytest.raises(MailDeferred, match="does not offer STARTTLS"):
        await mailer.send(_mail(), TO)
    await mailer.aclose()
    assert sink.received == []
    assert sink.logins == []


async def test_refused_login_defers_instead_of_rejecting(sinks: Sinks) -> None:
    """A 535 to the login is a deferral (the mail stays queued), not a refusal of the mail."""
    sink = sinks.start("starttls")
    mailer = _mailer(sink, "starttls", password="wrong")
    with pytest.raises(MailDeferred, match="refused the login as 'notify-relay': 535"):
        await mailer.send(_mail(), TO)
    await mailer.aclose()
    assert sink.received == []


async def test_untrusted_certificate_defers(sinks: Sinks) -> None:
    """Without the private CA the certificate check fails: deferred, nothing delivered."""
    sink = sinks.start("tls")
    access = SmtpAccess(SmtpSecurity.TLS, USERNAME, SecretStr(PASSWORD), tls_context())
    mailer = Mailer("127.0.0.1", sink.port, sender="s@test.invalid", access=access,
                    connections=1, attempts=2, base_delay=0.01)  # fmt: skip
    with pytest.raises(MailDeferred, match="CERTIFICATE_VERIFY_FAILED"):
        await mailer.send(_mail(), TO)
    await mailer.aclose()
    assert sink.received == []
