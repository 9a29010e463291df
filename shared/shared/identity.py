"""Short-lived identity tokens (signed JWTs) the portal sends for a person and services verify."""

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from pydantic import AliasChoices, Field, SecretStr

from shared.enums import ActorKind, TokenScope
from shared.settings import InfraSettings, ProductionSettingsError, refuse_local_secrets

log = logging.getLogger("shared.identity")

ALGORITHM = "HS256"
ISSUER = "support-portal"
AUDIENCE = "support-portal-api"
LOCAL_SIGNING_KEY = "local-identity-signing-key-for-development-only"
DEFAULT_LIFETIME = timedelta(minutes=5)
# Clock skew between the portal and a service that a token's times may have.
LEEWAY_SECONDS = 10


class IdentitySettings(InfraSettings):
    """The key identity tokens are signed and verified with; one value for the portal and
    every service (IDENTITY_SIGNING_KEY)."""

    identity_signing_key: SecretStr = Field(
        SecretStr(LOCAL_SIGNING_KEY),
        validation_alias=AliasChoices("IDENTITY_SIGNING_KEY", "identity_signing_key"),
        description="HMAC key of the portal's short-lived identity tokens (at least 32 bytes).",
    )


@dataclass(frozen=True)
class Identity:
    """Who an identity token stands for, what it may do, and until when."""

    subject_kind: ActorKind
    subject_id: str
    scopes: frozenset[TokenScope]
    expires_at: datetime


class IdentityKeys:
    """Signs and verifies identity tokens with one HMAC key."""

    def __init__(self, key: str, lifetime: timedelta = DEFAULT_LIFETIME) -> None:
        self._key = key
        self.lifetime = lifetime

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> "IdentityKeys":
        """The keys of these settings."""
        return cls(settings.identity_signing_key.get_secret_value())

    def sign(self, identity: Identity) -> str:
        """A compact JWT for the identity."""
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": identity.subject_id,
            "kind": identity.subject_kind.value,
            "scope": " ".join(sorted(identity.scopes)),
            "iat": datetime.now(UTC),
            "exp": identity.expires_at,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def issue(
        self, kind: ActorKind, subject_id: str, scopes: frozenset[TokenScope] | None = None
    ) -> str:
        """A token for the subject valid for `lifetime` from now."""
        expires = datetime.now(UTC) + self.lifetime
        return self.sign(Identity(kind, subject_id, scopes or frozenset(TokenScope), expires))

    def verify(self, token: str) -> Identity | None:
        """The identity of a valid, unexpired token of ours; None for anything else."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
            kind = ActorKind(str(claims.get("kind")))
            scopes = frozenset(TokenScope(s) for s in str(claims.get("scope", "")).split())
        except (jwt.InvalidTokenError, ValueError):
            return None
        expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
        return Identity(kind, str(claims["sub"]), scopes, expires)


def looks_like_jwt(token: str) -> bool:
    """A compact JWS has three dot-separated parts; the directory's tokens have none."""
    return token.count(".") == 2


def keys_from_environment() -> IdentityKeys | None:
    """The keys configured for this process; None (identity tokens refused) when production
    has no key of its own, so a service without one keeps working on API tokens alone."""
    settings = IdentitySettings()
    try:
        refuse_local_secrets(settings, ["identity_signing_key"])
    except ProductionSettingsError as exc:
        log.warning("identity tokens are refused: %s", exc)
        return None
    return IdentityKeys.from_settings(settings)
