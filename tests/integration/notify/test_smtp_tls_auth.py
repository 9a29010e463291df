"""`python -m notify` against a real mail server on loopback: STARTTLS or TLS, with AUTH."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from .conftest import NotifyProcess, Scenario, eventually, receipt_id
from .tls_sink import PASSWORD, QUIET, USERNAME, Delivery, Sinks, TlsAuthSink

pytestmark = QUIET
WRONG_PASSWORD = "not the relay's password"


@pytest.fixture
def sinks(tmp_path: Path) -> Iterator[Sinks]:
    """The TLS+AUTH servers a test starts, on a certificate made for it; all stopped at the end."""
    made = Sinks(tmp_path)
    yield made
    made.stop_all()


def _env(sink: TlsAuthSink, security: str, password: str = PASSWORD) -> dict[str, str]:
    """Notify pointed at `sink`, trusting its certificate through NOTIFY_SMTP_CA_FILE."""
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink.port),
        "NOTIFY_SMTP_SECURITY": security,
        "NOTIFY_SMTP_USERNAME": USERNAME,
        "NOTIFY_SMTP_PASSWORD": password,
        "NOTIFY_SMTP_CA_FILE": str(sink.cert),
        "NOTIFY_SMTP_ATTEMPTS": "2",
    }


async def _submit(scenario: Scenario, number: int) -> tuple[str, str]:
    """Publish an owner and a submitted case; the owner's address and the receipt's id."""
    (owner,) = await scenario.people("owner")
    case = scenario.submitted(owner, number)
    await scenario.case(case)
    return str(owner.email), receipt_id(case)


async def _received(sink: TlsAuthSink, address: str) -> list[Delivery]:
    async def arrived() -> list[Delivery]:
        return [d for d in sink.received if d.recipient == address]

    return list(await eventually(arrived, f"the mail to {address} at the TLS server"))


async def _logged(notify: NotifyProcess, text: str) -> None:
    async def seen() -> bool:
        return text in notify.log.read_text(errors="replace")

    await eventually(seen, f"notify to log {text!r}")


async def _statuses(scenario: Scenario, infra: Any) -> list[str]:
    """Status of every mail in this scenario's sent log."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url.get_secret_value())
    try:
        found = client[scenario.database]["sent_mail"].find({}, {"status": 1})
        return [doc["status"] async for doc in found]
    finally:
        await client.close()


async def _pending(scenario: Scenario, infra: Any) -> None:
    """The mail is claimed and still pending: neither sent nor dead(-lettered)."""
    statuses = await _statuses(scenario, infra)
    assert statuses, "the mail was never claimed"
    assert set(statuses) <= {"sending", "data"}


async def _recorded_sent(scenario: Scenario, infra: Any) -> None:
    async def sent() -> bool:
        return await _statuses(scenario, infra) == ["sent"]

    await eventually(sent, "the one mail to be recorded sent")


async def test_starttls_and_login_deliver_over_an_authenticated_tls_session(
    scenario: Scenario, spawn: Any, sinks: Sinks
) -> None:
    """With NOTIFY_SMTP_SECURITY=starttls and a login, the receipt arrives once, and the
    server saw it over TLS from the logged-in relay user."""
    sink = sinks.start("starttls")
    notify = spawn(**_env(sink, "starttls"))
    await notify.ready()
    address, receipt = await _submit(scenario, 9400001)
    (delivery,) = await _received(sink, address)
    assert delivery == Delivery(address, receipt, encrypted=True, login=USERNAME)


async def test_implicit_tls_and_login_deliver(scenario: Scenario, spawn: Any, sinks: Sinks) -> None:
    """With NOTIFY_SMTP_SECURITY=tls (TLS from the first byte) and a login, the receipt
    arrives once over TLS from the logged-in relay user."""
    sink = sinks.start("tls")
    notify = spawn(**_env(sink, "tls"))
    await notify.ready()
    address, receipt = await _submit(scenario, 9400002)
    (delivery,) = await _received(sink, address)
    assert delivery == Delivery(address, receipt, encrypted=True, login=USERNAME)


async def test_a_refused_login_keeps_the_mail_queued_until_it_is_accepted(
    scenario: Scenario,
    spawn: Any,
    infra: Any,
    sinks: Sinks,
) -> None:
    """A wrong password is logged as a refused login; nothing is delivered, the mail stays
    pending (not dead); once the server accepts the login the mail arrives, recorded sent."""
    sink = sinks.start("starttls")
    notify = spawn(**_env(sink, "starttls", password=WRONG_PASSWORD))
    await notify.ready()
    address, receipt = await _submit(scenario, 9400003)
    await _logged(notify, f"refused the login as '{USERNAME}'")
    assert (USERNAME, False) in sink.logins
    assert not sink.received
    await _pending(scenario, infra)

    sink.restart(password=WRONG_PASSWORD)  # the server now takes the password notify has
    (delivery,) = await _received(sink, address)
    assert delivery == Delivery(address, receipt, encrypted=True, login=USERNAME)
    await _recorded_sent(scenario, infra)


async def test_starttls_required_but_not_offered_sends_nothing_in_clear(
    scenario: Scenario,
    spawn: Any,
    infra: Any,
    sinks: Sinks,
) -> None:
    """A server that does not offer STARTTLS gets nothing (no mail, no login): the mail stays
    pending like in an outage (not dead) and goes out over TLS once STARTTLS is offered."""
    sink = sinks.start("plain")
    notify = spawn(**_env(sink, "starttls"))
    await notify.ready()
    address, receipt = await _submit(scenario, 9400004)
    await _logged(notify, "does not offer STARTTLS")
    assert not sink.received
    assert not sink.logins
    await _pending(scenario, infra)

    sink.restart(mode="starttls")
    (delivery,) = await _received(sink, address)
    assert delivery == Delivery(address, receipt, encrypted=True, login=USERNAME)
    await _recorded_sent(scenario, infra)
