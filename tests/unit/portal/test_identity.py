"""Identity tokens: what the portal signs, services verify; anything else is refused."""

from datetime import UTC, datetime, timedelta

import jwt

from shared.enums import ActorKind, TokenScope
from shared.identity import Identity, IdentityKeys, looks_like_jwt

KEY = "a-test-key-of-enough-length-for-hmac-256"


def test_round_trip() -> None:
    """A token the portal issues verifies to the same person, scopes and expiry."""
    keys = IdentityKeys(KEY)
    found = keys.verify(keys.issue(ActorKind.CONTACT, "zack-morris"))
    assert found is not None
    assert found.subject_kind is ActorKind.CONTACT
    assert found.subject_id == "zack-morris"
    assert found.scopes == frozenset({TokenScope.READ, TokenScope.WRITE})
    assert timedelta(minutes=4) < found.expires_at - datetime.now(UTC) <= timedelta(minutes=5)


def test_expired_token_is_refused() -> None:
    """A token past its expiry (beyond the leeway) verifies to nothing."""
    keys = IdentityKeys(KEY)
    past = datetime.now(UTC) - timedelta(minutes=1)
    token = keys.sign(Identity(ActorKind.CONTACT, "zack-morris", frozenset(TokenScope), past))
    assert keys.verify(token) is None


def test_other_key_is_refused() -> None:
    """A token signed with another key is refused."""
    token = IdentityKeys("another-key-another-key-another-key").issue(ActorKind.CONTACT, "x")
    assert IdentityKeys(KEY).verify(token) is None


def test_foreign_audience_and_none_algorithm_are_refused() -> None:
    """A JWT for another audience, or an unsigned one, is refused."""
    now = datetime.now(UTC)
    claims = {"iss": "support-portal", "sub": "x", "kind": "contact", "iat": now}
    foreign = jwt.encode({**claims, "aud": "other", "exp": now + timedelta(minutes=1)}, KEY)
    unsigned = jwt.encode(
        {**claims, "aud": "support-portal-api", "exp": now + timedelta(minutes=1)},
        "",
        algorithm="none",
    )
    assert IdentityKeys(KEY).verify(foreign) is None
    assert IdentityKeys(KEY).verify(unsigned) is None


def test_read_scope_survives() -> None:
    """A read-only identity stays read-only."""
    keys = IdentityKeys(KEY)
    token = keys.issue(ActorKind.CONTACT, "x", frozenset({TokenScope.READ}))
    found = keys.verify(token)
    assert found is not None
    assert found.scopes == frozenset({TokenScope.READ})


def test_directory_tokens_do_not_look_like_jwts() -> None:
    """The directory's URL-safe tokens have no dots; a compact JWT has two."""
    assert not looks_like_jwt("local-dev-only-zack-morris-token")
    assert looks_like_jwt(IdentityKeys(KEY).issue(ActorKind.CONTACT, "x"))
