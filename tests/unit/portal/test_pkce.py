"""The portal's sign-in against a provider that enforces PKCE (RFC 7636, S256).

The local provider process ignores PKCE, so here a provider written to the RFC runs in the
test (over httpx's transport): it keeps each authorization's code_challenge and gives an ID
token only for a code_verifier whose S256 is that challenge.
"""

import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from portal.errors import SignInFailed
from portal.models import LoginState
from portal.service import Oidc
from portal.settings import Settings

ISSUER = "https://login.district.test"
EMAIL = "zack.morris@bayside.example"
# RFC 7636 appendix B: this verifier's S256 challenge.
RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def s256(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(code_verifier))) without padding (RFC 7636 section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class PkceProvider:
    """An OpenID provider that refuses a token request whose verifier fails the challenge."""

    client_id: str
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    challenges: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # code: (c, m, n)
    refused: list[str] = field(default_factory=list)

    def authorize(self, url: str) -> str:
        """What the browser's visit to the authorization URL does: a code for its challenge."""
        query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
        code = f"code-{len(self.challenges)}"
        self.challenges[code] = (
            query["code_challenge"],
            query["code_challenge_method"],
            query["nonce"],
        )
        return code

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/authorize",
                "token_endpoint": f"{ISSUER}/token",
                "jwks_uri": f"{ISSUER}/jwks",
            })  # fmt: skip
        if path == "/jwks":
            public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
            return httpx.Response(200, json={"keys": [{**public, "kid": "k1", "use": "sig"}]})
        if path == "/token":
            return self._token(parse_qs(request.content.decode()))
        return httpx.Response(404)

    def _token(self, form: dict[str, list[str]]) -> httpx.Response:
        code, verifier = form["code"][0], form.get("code_verifier", [""])[0]
        challenge, method, nonce = self.challenges.pop(code)
        if method != "S256" or not 43 <= len(verifier) <= 128 or s256(verifier) != challenge:
            self.refused.append(code)
            return httpx.Response(400, json={"error": "invalid_grant"})
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": self.client_id, "sub": "zack", "email": EMAIL,
                  "nonce": nonce, "iat": now, "exp": now + 300}  # fmt: skip
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})
        return httpx.Response(200, json={"id_token": token, "token_type": "Bearer"})


@pytest.fixture
def provider() -> PkceProvider:
    return PkceProvider(client_id="support-portal")


def _oidc(provider: PkceProvider) -> Oidc:
    settings = Settings(oidc_issuer=ISSUER, oidc_client_id=provider.client_id)
    return Oidc(settings, httpx.AsyncClient(transport=httpx.MockTransport(provider.handle)))


def test_the_test_providers_s256_is_the_rfcs() -> None:
    """The provider's check gives RFC 7636's own example challenge."""
    assert s256(RFC_VERIFIER) == RFC_CHALLENGE


async def test_sign_in_passes_a_provider_that_enforces_pkce(provider: PkceProvider) -> None:
    """The portal sends an S256 challenge and redeems the code with its verifier."""
    oidc = _oidc(provider)
    url, login = await oidc.begin("/cases")
    assert 43 <= len(login.code_verifier) <= 128
    assert set(login.code_verifier) <= UNRESERVED
    code = provider.authorize(url)
    assert await oidc.email_of(code, login) == EMAIL
    assert provider.refused == []


async def test_a_code_redeemed_with_another_verifier_is_refused(provider: PkceProvider) -> None:
    """A code intercepted and redeemed with another sign-in's verifier gets no session."""
    oidc = _oidc(provider)
    url, _ = await oidc.begin("/cases")
    _, other = await oidc.begin("/cases")
    code = provider.authorize(url)
    with pytest.raises(SignInFailed, match="refused the sign-in"):
        await oidc.email_of(code, other)
    assert provider.refused == [code]


async def test_each_sign_in_has_its_own_verifier(provider: PkceProvider) -> None:
    """Two sign-ins never share a verifier (nor a state or nonce)."""
    oidc = _oidc(provider)
    logins: list[LoginState] = [(await oidc.begin("/"))[1] for _ in range(5)]
    assert len({login.code_verifier for login in logins}) == 5
    assert len({login.state for login in logins} | {login.nonce for login in logins}) == 10
