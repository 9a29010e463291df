"""Session cookies and the directory view: signed, expiring, and matched by email."""

import time

from portal.handlers import Directory
from portal.models import LoginState, Session
from portal.service import CookieCodec

from shared.enums import ContactType
from shared.events import ContactUpserted
from tests.unit.portal.fakes import contact, directory


def _session(expires_at: int) -> Session:
    return Session(
        sid="s", contact_id="zack", account_id="bayside", csrf="t", expires_at=expires_at
    )


def test_session_round_trip() -> None:
    """A session cookie reads back as the same session."""
    codec = CookieCodec("secret-secret-secret-secret-secret")
    session = _session(int(time.time()) + 60)
    assert codec.read_session(codec.session(session)) == session


def test_expired_session_is_no_session() -> None:
    """A session past its expiry reads as none."""
    codec = CookieCodec("secret-secret-secret-secret-secret")
    assert codec.read_session(codec.session(_session(int(time.time()) - 1))) is None


def test_tampered_or_foreign_cookie_is_no_session() -> None:
    """A cookie signed with another secret, or altered, reads as none."""
    codec = CookieCodec("secret-secret-secret-secret-secret")
    other = CookieCodec("another-another-another-another-an").session(_session(2_000_000_000))
    assert codec.read_session(other) is None
    good = codec.session(_session(2_000_000_000))
    assert codec.read_session(good[:-2] + ("AA" if good[-2:] != "AA" else "BB")) is None


def test_login_cookie_is_not_a_session() -> None:
    """The sign-in state cookie cannot be replayed as a session (another audience)."""
    codec = CookieCodec("secret-secret-secret-secret-secret")
    login = LoginState(state="a", nonce="b", code_verifier="c", expires_at=2_000_000_000)
    assert codec.read_session(codec.login(login)) is None


def test_email_match_is_case_insensitive_and_active_only() -> None:
    """Sign-in finds a contact by email in any case; a deactivated contact is not found."""
    found = directory()
    assert found.by_email("ZACK@Bayside.Example") is not None
    gone = contact("zack", "Zack", "Morris", ContactType.AUTHORIZED_SUPPORT, ["bayside"])
    found.apply(ContactUpserted(contact=gone.model_copy(update={"active": False})))
    assert found.by_email("zack@bayside.example") is None


def test_changed_email_moves_the_match() -> None:
    """A contact whose email changed is found by the new address only."""
    found = Directory()
    old = contact("lisa", "Lisa", "Turtle", ContactType.TECHNICAL, ["bayside"])
    found.apply(ContactUpserted(contact=old))
    found.apply(ContactUpserted(contact=old.model_copy(update={"email": "lt@bayside.example"})))
    assert found.by_email("lisa@bayside.example") is None
    assert found.by_email("lt@bayside.example") is not None
