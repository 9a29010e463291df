"""A test-only aiosmtpd server with TLS (STARTTLS or implicit) and AUTH, and its certificate."""

import ssl
import subprocess
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from .conftest import free_port

USERNAME = "notify-relay"
PASSWORD = "correct horse battery staple"
# aiosmtpd cannot tell an implicit-TLS transport from a plain one and warns about AUTH on it
QUIET = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A fresh self-signed certificate for 127.0.0.1 (and its key), made with openssl."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass(frozen=True)
class Delivery:
    """One mail the server stored, and how its session was protected and logged in."""

    recipient: str
    message_id: str
    encrypted: bool
    login: str | None


@dataclass
class TlsAuthSink:
    """An SMTP server on loopback that requires TLS and AUTH (`mode` starttls or tls), or
    one that offers neither (`mode` plain) and stores whatever it is sent."""

    cert: Path
    key: Path
    mode: str = "starttls"
    password: str = PASSWORD
    port: int = field(default_factory=free_port)
    received: list[Delivery] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)  # (login, accepted)
    controller: Controller | None = None

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """Accept exactly USERNAME with the current `password`."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, secret = auth_data.login.decode(), auth_data.password.decode()
        accepted = login == USERNAME and secret == self.password
        self.logins.append((login, accepted))
        return AuthResult(success=accepted, handled=False, auth_data=auth_data)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = BytesParser(policy=default_policy).parsebytes(envelope.content, headersonly=True)
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        login = session.auth_data.login.decode() if session.authenticated else None
        for rcpt in envelope.rcpt_tos:
            self.received.append(Delivery(rcpt, str(parsed["Message-ID"]), encrypted, login))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        """Listen on `port` (fixed, so notify can be pointed at it before it runs)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        options: dict[str, Any] = {}
        if self.mode == "starttls":
            options = {"tls_context": context, "require_starttls": True}
        elif self.mode == "tls":
            # the session never learns its transport is TLS: let it offer AUTH all the same
            options = {"ssl_context": context, "auth_require_tls": False}
        if self.mode != "plain":
            options |= {"auth_required": True, "authenticator": self.authenticate}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def stop(self) -> None:
        """Stop listening."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def restart(self, **changes: Any) -> None:
        """Stop, change `mode` / `password`, and listen again on the same port."""
        self.stop()
        for name, value in changes.items():
            setattr(self, name, value)
        self.start()


class Sinks:
    """The servers a test starts, all on one fresh self-signed certificate; `stop_all` at the end.

    Use it from a fixture: `sinks = Sinks(tmp_path); yield sinks; sinks.stop_all()`.
    """

    def __init__(self, folder: Path) -> None:
        self.cert, self.key = self_signed(folder)
        self.made: list[TlsAuthSink] = []

    def start(self, mode: str) -> TlsAuthSink:
        """A server in `mode` (starttls, tls or plain), listening."""
        sink = TlsAuthSink(self.cert, self.key, mode=mode)
        sink.start()
        self.made.append(sink)
        return sink

    def stop_all(self) -> None:
        """Stop every server started."""
        for sink in self.made:
            sink.stop()
