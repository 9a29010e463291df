"""The SMTP pool against an in-process aiosmtpd server with STARTTLS or TLS, and AUTH."""

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from pydantic import SecretStr

from notify.errors import MailDeferred
from notify.mailer import Mailer, SmtpAccess, SmtpSecurity, tls_context
from tests.integration.notify.tls_sink import PASSWORD, QUIET, USERNAME, TlsAuthSink, self_signed

pytestmark = QUIET
TO = "ann@test.invalid"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One self-signed certificate for 127.0.0.1 for the module."""
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def sinks() -> Iterator[list[TlsAuthSink]]:
    """Servers a test starts; all stopped at the end."""
    made: list[TlsAuthSink] = []
    yield made
    for sink in made:
        sink.stop()


def _sink(sinks: list[TlsAuthSink], certificate: tuple[Path, Path], mode: str) -> TlsAuthSink:
    sink = TlsAuthSink(*certificate, mode=mode)
    sink.start()
    sinks.append(sink)
    return sink


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
async def test_delivers_over_tls_logged_in(
    sinks: list[TlsAuthSink], certificate: tuple[Path, Path], mode: str
) -> None:
    """STARTTLS and implicit TLS both deliver, encrypted, from the logged-in user."""
    sink = _sink(sinks, certificate, mode)
    mailer = _mailer(sink, mode)
    await mailer.send(_mail(), TO)
    await mailer.aclose()
    assert [(d.recipient, d.encrypted, d.login) for d in sink.received] == [(TO, True, USERNAME)]


async def test_missing_starttls_defers_and_sends_nothing(
    sinks: list[TlsAuthSink], certificate: tuple[Path, Path]
) -> None:
    """A server without STARTTLS gets no mail and no login: the mail is deferred."""
    sink = _sink(sinks, certificate, "plain")
    mailer = _mailer(sink, "starttls")
    with pytest.raises(MailDeferred, match="does not offer STARTTLS"):
        await mailer.send(_mail(), TO)
    await mailer.aclose()
    assert sink.received == []
    assert sink.logins == []


async def test_refused_login_defers_instead_of_rejecting(
    sinks: list[TlsAuthSink], certificate: tuple[Path, Path]
) -> None:
    """A 535 to the login is a deferral (the mail stays queued), not a refusal of the mail."""
    sink = _sink(sinks, certificate, "starttls")
    mailer = _mailer(sink, "starttls", password="wrong")
    with pytest.raises(MailDeferred, match="refused the login as 'notify-relay': 535"):
        await mailer.send(_mail(), TO)
    await mailer.aclose()
    assert sink.received == []


async def test_untrusted_certificate_defers(
    sinks: list[TlsAuthSink], certificate: tuple[Path, Path]
) -> None:
    """Without the private CA the certificate check fails: deferred, nothing delivered."""
    sink = _sink(sinks, certificate, "tls")
    access = SmtpAccess(SmtpSecurity.TLS, USERNAME, SecretStr(PASSWORD), tls_context())
    mailer = Mailer("127.0.0.1", sink.port, sender="s@test.invalid", access=access,
                    connections=1, attempts=2, base_delay=0.01)  # fmt: skip
    with pytest.raises(MailDeferred, match="CERTIFICATE_VERIFY_FAILED"):
        await mailer.send(_mail(), TO)
    await mailer.aclose()
    assert sink.received == []
