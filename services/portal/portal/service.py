"""The portal's use cases: sign-in, sessions, and every page's reads and writes over HTTP."""

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import IO, Any, Protocol
from urllib.parse import urlencode

import httpx
import jwt
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import (  # type: ignore[import-untyped]
    create_s256_code_challenge,
)

from portal import logic
from portal.errors import (
    CaseNotFound,
    Forbidden,
    NotSignedIn,
    Refused,
    SignInFailed,
    Unavailable,
    UnknownContact,
)
from portal.handlers import CaseSignals, Directory
from portal.models import District, LoginState, Person, Session
from portal.settings import Settings
from shared.enums import ActorKind, CaseType
from shared.identity import IdentityKeys
from shared.workflow import DEFAULT_TIME_ZONE

log = logging.getLogger("portal.service")

SESSION_AUDIENCE = "portal-session"
LOGIN_AUDIENCE = "portal-login"
LINK_AUDIENCE = "portal-link"
LOGIN_SECONDS = 600
POLL_SECONDS = 0.1
Json = dict[str, Any]


class CookieCodec:
    """Signs and reads the portal's cookies (HS256 JWTs with the session secret)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def session(self, value: Session) -> str:
        """The session as a cookie value."""
        return self._encode(value.model_dump(), SESSION_AUDIENCE, value.expires_at)

    def read_session(self, raw: str | None) -> Session | None:
        """The session of a cookie, if signed by us and not expired."""
        claims = self._decode(raw, SESSION_AUDIENCE)
        return Session.model_validate(claims) if claims else None

    def login(self, value: LoginState) -> str:
        """The sign-in state as a cookie value."""
        return self._encode(value.model_dump(), LOGIN_AUDIENCE, value.expires_at)

    def read_login(self, raw: str | None) -> LoginState | None:
        """The sign-in state of a cookie, if signed by us and not expired."""
        claims = self._decode(raw, LOGIN_AUDIENCE)
        return LoginState.model_validate(claims) if claims else None

    def link(self, contact_id: str, link_id: str, expires_at: int) -> str:
        """A one-time sign-in link's token."""
        return self._encode({"sub": contact_id, "jti": link_id}, LINK_AUDIENCE, expires_at)

    def read_link(self, raw: str | None) -> tuple[str, str, int] | None:
        """(contact id, link id, expiry) of a link token signed by us and not expired."""
        if not raw:
            return None
        try:
            claims = jwt.decode(raw, self._secret, algorithms=["HS256"], audience=LINK_AUDIENCE)
        except jwt.InvalidTokenError:
            return None
        return str(claims["sub"]), str(claims["jti"]), int(claims["exp"])

    def _encode(self, claims: Json, audience: str, expires_at: int) -> str:
        return jwt.encode({**claims, "aud": audience, "exp": expires_at}, self._secret, "HS256")

    def _decode(self, raw: str | None, audience: str) -> Json | None:
        if not raw:
            return None
        try:
            claims: Json = jwt.decode(raw, self._secret, algorithms=["HS256"], audience=audience)
        except jwt.InvalidTokenError:
            return None
        claims.pop("aud", None)
        claims.pop("exp", None)
        return claims


class Oidc:
    """The OpenID Connect client: authorization code with PKCE (S256), ID token verified."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings, self.http = settings, http
        self._metadata: Json | None = None
        self._jwks: jwt.PyJWKSet | None = None

    async def metadata(self) -> Json:
        """The provider's discovery document (read once)."""
        if self._metadata is None:
            url = self.settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
            self._metadata = await self._get_json(url)
        return self._metadata

    async def begin(self, next_path: str) -> tuple[str, LoginState]:
        """Where to send the browser, and the state to keep until it comes back."""
        meta = await self.metadata()
        login = LoginState(
            state=generate_token(32),
            nonce=generate_token(32),
            code_verifier=generate_token(64),
            next_path=logic.safe_next(next_path),
            expires_at=int(time.time()) + LOGIN_SECONDS,
        )
        params = {
            "response_type": "code",
            "client_id": self.settings.oidc_client_id,
            "redirect_uri": self.settings.redirect_uri,
            "scope": "openid email profile",
            "state": login.state,
            "nonce": login.nonce,
            "code_challenge": create_s256_code_challenge(login.code_verifier),
            "code_challenge_method": "S256",
        }
        return f"{meta['authorization_endpoint']}?{urlencode(params)}", login

    async def email_of(self, code: str, login: LoginState) -> str:
        """Exchange the code (with the PKCE verifier) and read the verified ID token's email."""
        meta = await self.metadata()
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.settings.redirect_uri,
            "code_verifier": login.code_verifier,
        }
        secret = self.settings.oidc_client_secret.get_secret_value()
        try:
            answer = await self.http.post(
                meta["token_endpoint"], data=data, auth=(self.settings.oidc_client_id, secret)
            )
        except httpx.HTTPError as exc:
            raise Unavailable("the identity provider did not answer") from exc
        if answer.status_code != 200:
            raise SignInFailed(f"the identity provider refused the sign-in ({answer.status_code})")
        claims = await self._verified(str(answer.json().get("id_token", "")), login.nonce)
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            raise SignInFailed("the identity provider sent no email address")
        return email

    async def _verified(self, id_token: str, nonce: str) -> Json:
        try:
            key = _signing_key(await self._keys(), jwt.get_unverified_header(id_token))
            claims: Json = jwt.decode(
                id_token,
                key.key,
                algorithms=[key.algorithm_name or "RS256"],
                audience=self.settings.oidc_client_id,
                issuer=self.settings.oidc_issuer.rstrip("/"),
                leeway=30,
            )
        except (jwt.InvalidTokenError, KeyError) as exc:
            raise SignInFailed(f"the ID token could not be verified: {exc}") from exc
        if claims.get("nonce") != nonce:
            raise SignInFailed("the ID token's nonce does not match this sign-in")
        return claims

    async def _keys(self) -> jwt.PyJWKSet:
        if self._jwks is None:
            self._jwks = jwt.PyJWKSet.from_dict(
                await self._get_json((await self.metadata())["jwks_uri"])
            )
        return self._jwks

    async def _get_json(self, url: str) -> Json:
        try:
            answer = await self.http.get(url)
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            raise Unavailable("the identity provider did not answer") from exc
        body: Json = answer.json()
        return body


def _signing_key(keys: jwt.PyJWKSet, header: Json) -> jwt.PyJWK:
    """The provider key that signed a token: by `kid`, or the only key when it names none."""
    kid = header.get("kid")
    if kid is not None:
        return keys[str(kid)]
    if len(keys.keys) != 1:
        raise KeyError("the ID token names no key and the provider has several")
    return keys.keys[0]


class Api:
    """intake and feed as the signed-in person: a fresh short-lived identity token per call."""

    def __init__(self, settings: Settings, keys: IdentityKeys, http: httpx.AsyncClient) -> None:
        self.settings, self.keys, self.http = settings, keys, http

    def _auth(self, person: Person) -> dict[str, str]:
        token = self.keys.issue(ActorKind.CONTACT, person.contact_id)
        return {"Authorization": f"Bearer {token}"}

    async def feed(self, person: Person, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET a feed route."""
        url = self.settings.feed_url.rstrip("/") + path
        return await self._call("GET", url, person, params=params)

    async def intake(self, method: str, person: Person, path: str, **kwargs: Any) -> Any:
        """Call an intake route."""
        return await self._call(
            method, self.settings.intake_url.rstrip("/") + path, person, **kwargs
        )

    async def _call(self, method: str, url: str, person: Person, **kwargs: Any) -> Any:
        headers = {**self._auth(person), **kwargs.pop("headers", {})}
        try:
            answer = await self.http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise Unavailable(f"{url.split('/')[2]} did not answer") from exc
        return _answer_of(answer)

    async def download(
        self, person: Person, path: str
    ) -> tuple[dict[str, str], AsyncIterator[bytes]]:
        """An attachment's headers and bytes, streamed from intake."""
        url = self.settings.intake_url.rstrip("/") + path
        return await stream_download(self.http, url, self._auth(person))


# What a download keeps of intake's headers: the type, the file name, the size and the CSP.
DOWNLOAD_HEADERS = (
    "content-type",
    "content-disposition",
    "content-length",
    "content-security-policy",
)


async def stream_download(
    http: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> tuple[dict[str, str], AsyncIterator[bytes]]:
    """An attachment's headers and bytes, streamed from intake as they arrive (a 15 MB file is
    never held whole); a refusal is raised as intake's problem, before any byte is sent."""
    request = http.build_request("GET", url, headers=headers)
    try:
        answer = await http.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise Unavailable("intake did not answer") from exc
    if answer.status_code != 200:
        await answer.aread()
        await answer.aclose()
        _answer_of(answer)
    kept = {k: v for k, v in answer.headers.items() if k.lower() in DOWNLOAD_HEADERS}

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in answer.aiter_bytes():
                yield chunk
        finally:
            await answer.aclose()

    return kept, body()


def _answer_of(answer: httpx.Response) -> Any:
    if answer.status_code < 300:
        return answer.json() if answer.content else None
    problem = _problem(answer)
    detail = str(problem.get("detail") or answer.reason_phrase)
    if answer.status_code == 404:
        raise CaseNotFound(detail)
    if answer.status_code == 403:
        raise Forbidden(detail)
    if answer.status_code == 401:
        raise Unavailable(f"the service refused the portal's identity token: {detail}")
    if answer.status_code >= 500:
        raise Unavailable(detail)
    raise Refused(detail, list(problem.get("errors") or []), answer.status_code)


def _problem(answer: httpx.Response) -> Json:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class Sender(Protocol):
    """What sends the sign-in mail (portal.mailer.Mailer over SMTP)."""

    async def send(self, to: str, subject: str, text: str) -> None: ...


class UsedLinks(Protocol):
    """Where a link's single use is recorded (portal.store.LinkStore in Mongo)."""

    async def use(self, link_id: str, expires_at: datetime) -> bool: ...


def _version(case: Json) -> str:
    """What changes when the case's status, owner or feed does."""
    feed = case.get("feed") or {}
    items = feed.get("items") or [{}]
    return f"{case.get('last_modified')}|{feed.get('total')}|{items[0].get('item_id')}"


class Portal:
    """Everything the pages do."""

    def __init__(
        self,
        settings: Settings,
        directory: Directory,
        oidc: Oidc,
        api: Api,
        cookies: CookieCodec,
        links: UsedLinks,
        mailer: Sender,
        signals: CaseSignals | None = None,
    ) -> None:
        self.settings, self.directory, self.oidc, self.api = settings, directory, oidc, api
        self.cookies, self.links, self.mailer = cookies, links, mailer
        self.signals = signals or CaseSignals()

    # --- sessions -------------------------------------------------------------------

    def new_session(self, contact_id: str, account_id: str) -> Session:
        """A fresh session (new id and CSRF token) for a person who just signed in."""
        return Session(
            sid=secrets.token_urlsafe(16),
            contact_id=contact_id,
            account_id=account_id,
            csrf=secrets.token_urlsafe(32),
            expires_at=int(time.time()) + self.settings.session_max_age_s,
        )

    async def sign_in(self, code: str, state: str, login: LoginState | None) -> Session:
        """The session of a person the provider vouched for, if they are an active contact."""
        if login is None or not secrets.compare_digest(login.state, state):
            raise SignInFailed("this sign-in expired or was started elsewhere; sign in again")
        email = await self.oidc.email_of(code, login)
        contact = self.directory.by_email(email)
        if contact is None or not contact.account_ids:
            raise UnknownContact(email)
        log.info("signed in %s", contact.id)
        return self.new_session(contact.id, sorted(contact.account_ids)[0])

    async def send_link(self, email: str) -> None:
        """Mail a one-time sign-in link to an active contact; nobody else gets mail (and the
        page says the same either way, so it reveals no address)."""
        contact = self.directory.by_email(email)
        if contact is None or not contact.account_ids:
            log.info("sign-in link asked for an address that is no contact")
            return
        minutes = self.settings.link_minutes
        expires = int(time.time()) + minutes * 60
        token = self.cookies.link(contact.id, secrets.token_urlsafe(16), expires)
        url = f"{self.settings.base_url.rstrip('/')}/signin/link?{urlencode({'token': token})}"
        text = (
            f"Hello {contact.display_name},\n\nSign in to the Support Portal with this link. "
            f"It works once, for {minutes} minutes:\n\n{url}\n\n"
            "If you did not ask for it, ignore this mail: nobody can sign in without it.\n"
        )
        try:
            await self.mailer.send(str(contact.email), "Your Support Portal sign-in link", text)
        except Exception as exc:  # the relay refused or is away: the person may retry
            raise Unavailable("the sign-in mail could not be sent; try again shortly") from exc

    async def redeem_link(self, token: str) -> Session:
        """The session of a valid, unused sign-in link; the link is used up."""
        found = self.cookies.read_link(token)
        if found is None:
            raise SignInFailed("this sign-in link is not valid or has expired; ask for a new one")
        contact_id, link_id, expires = found
        if not await self.links.use(link_id, datetime.fromtimestamp(expires, UTC)):
            raise SignInFailed("this sign-in link was already used; ask for a new one")
        contact = self.directory.active(contact_id)
        if contact is None or not contact.account_ids:
            raise SignInFailed("this contact is no longer active")
        log.info("signed in %s by link", contact.id)
        return self.new_session(contact.id, sorted(contact.account_ids)[0])

    def person(self, session: Session | None) -> Person:
        """The signed-in person, from the directory as it is now."""
        contact = self.directory.active(session.contact_id) if session else None
        if session is None or contact is None:
            raise NotSignedIn("sign in to continue")
        districts = [self._district(a) for a in sorted(contact.account_ids)]
        current = next((d for d in districts if d.account_id == session.account_id), districts[0])
        return Person(
            contact.id,
            contact.display_name,
            str(contact.email),
            contact.contact_type,
            districts,
            current,
        )

    def _district(self, account_id: str) -> District:
        account = self.directory.accounts.get(account_id)
        if account is None:
            return District(account_id, account_id, DEFAULT_TIME_ZONE)
        return District(account.id, account.name, account.time_zone)

    def switch(self, session: Session, account_id: str) -> Session:
        """The session looking at another of the person's districts."""
        person = self.person(session)
        if account_id not in [d.account_id for d in person.districts]:
            raise Forbidden("that district is not one of yours")
        return session.model_copy(update={"account_id": account_id})

    # --- reads ----------------------------------------------------------------------

    async def banner(self, person: Person) -> Json | None:
        """The district's banner; a page still renders when the feed cannot say."""
        try:
            banner: Json = await self.api.feed(person, "/banner")
        except Unavailable:
            return None
        return banner

    async def cases(self, person: Person, query: Mapping[str, str]) -> Json:
        """A page of the district's cases."""
        params = {**logic.feed_params(query), "account_id": person.district.account_id}
        page: Json = await self.api.feed(person, "/cases", params)
        return page

    async def case(self, person: Person, ref: str, q: str | None = None) -> Json:
        """A case with its feed (searched when `q` is given)."""
        case: Json = await self.api.feed(person, f"/cases/{ref}", {"feed_page_size": "50"})
        if case.get("account_id") not in [d.account_id for d in person.districts]:
            raise CaseNotFound(f"no case {ref} in your districts")
        case["time_zone"] = self._district(str(case["account_id"])).time_zone
        if q:
            params = {"q": q, "page_size": "50"}
            case["feed"] = await self.api.feed(person, f"/cases/{ref}/feed", params)
        return case

    async def changes(self, person: Person, ref: str) -> AsyncGenerator[str, None]:
        """Yield the case's new version each time its status, owner or feed changes.

        A case event (case.events, via `signals`) wakes the stream at once; without one it
        asks anyway every `live_poll_s`, so a stream works while Kafka is away. Every look is
        the feed's answer to the person, so a case they may not read never streams.
        """
        case: Json = await self.api.feed(person, f"/cases/{ref}", {"feed_page_size": "1"})
        seen = _version(case)
        deadline = time.monotonic() + self.settings.live_max_s
        with self.signals.watch(str(case.get("case_id"))) as woken:
            while time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), self.settings.live_poll_s)
                now = await self._next_version(person, ref, seen, woken)
                if now != seen:
                    seen = now
                    yield now

    async def _next_version(self, person: Person, ref: str, seen: str, woken: asyncio.Event) -> str:
        """The case's version now; after an event, looked at again for a moment until the
        feed, which consumes the same event, shows it."""
        tries = max(1, int(self.settings.read_your_writes_s / 0.2)) if woken.is_set() else 1
        woken.clear()
        now = seen
        for attempt in range(tries):
            try:
                now = await self._version(person, ref)
            except Unavailable:
                return seen  # the feed is away for a moment: the page keeps what it shows
            if now != seen or attempt == tries - 1:
                break
            await asyncio.sleep(0.2)
        return now

    async def _version(self, person: Person, ref: str) -> str:
        case: Json = await self.api.feed(person, f"/cases/{ref}", {"feed_page_size": "1"})
        return _version(case)

    async def contacts(self, person: Person) -> list[Json]:
        """The district's active contacts (for submitting on someone's behalf)."""
        params = {"account_id": person.district.account_id}
        found: Json = await self.api.intake("GET", person, "/directory/contacts", params=params)
        return list(found.get("contacts", []))

    async def recipients(self, person: Person, ref: str) -> list[Json]:
        """The case's notification recipients (name, contact type, whether the owner)."""
        found: Json = await self.api.intake("GET", person, f"/cases/{ref}/recipients")
        return list(found.get("recipients", []))

    # --- writes ---------------------------------------------------------------------

    async def add_recipients(self, person: Person, ref: str, contact_ids: list[str]) -> None:
        """Add contacts as recipients (intake applies the seed's rules)."""
        body = {"contact_ids": contact_ids}
        await self.api.intake("POST", person, f"/cases/{ref}/recipients", json=body)

    async def remove_recipients(self, person: Person, ref: str, contact_ids: list[str]) -> None:
        """Remove recipients (never the case owner)."""
        params = [("contact_id", c) for c in contact_ids]
        await self.api.intake("DELETE", person, f"/cases/{ref}/recipients", params=params)

    async def submit(
        self, person: Person, case_type: CaseType, form: Mapping[str, str | list[str]]
    ) -> Json:
        """Submit a case (one per Idempotency-Key) and wait briefly until the feed has it."""
        if not person.can_modify_cases:
            raise Forbidden("Read-Only contacts cannot submit cases")
        body = logic.submission_body(case_type, form, logic.detail_fields(case_type))
        body.setdefault("account_id", person.district.account_id)
        key = str(form.get("idempotency_key") or uuid.uuid4())
        headers = {"Idempotency-Key": key}
        created: Json = await self.api.intake("POST", person, "/cases", json=body, headers=headers)
        await self._until(lambda: self._case_visible(person, str(created["case_number"])))
        return created

    async def post(
        self,
        person: Person,
        ref: str,
        body: str,
        files: list[tuple[str, IO[bytes] | bytes, str]],
        key: str | None,
    ) -> Json:
        """Post to a case's feed and wait briefly until the feed shows the post."""
        if not person.can_modify_cases:
            raise Forbidden("Read-Only contacts cannot post to cases")
        parts = [("files", (name, data, kind)) for name, data, kind in files if name]
        headers = {"Idempotency-Key": key} if key else {}
        posted: Json = await self.api.intake(
            "POST",
            person,
            f"/cases/{ref}/posts",
            data={"body": logic.post_html(body)},
            files=parts or None,
            headers=headers,
        )
        await self._until(lambda: self._post_visible(person, ref, posted))
        return posted

    async def close(self, person: Person, ref: str, note: str | None, key: str | None) -> str:
        """Close the case; answers the outcome's status once the workflow applied it."""
        body = {"note": note} if note and note.strip() else {}
        return await self._command(person, ref, "close", body, key)

    async def reopen(self, person: Person, ref: str, details: str, key: str | None) -> str:
        """Reopen a case closed within 60 days, with the required additional details."""
        return await self._command(person, ref, "reopen", {"details": details}, key)

    async def _command(
        self, person: Person, ref: str, name: str, body: Json, key: str | None
    ) -> str:
        if not person.can_modify_cases:
            raise Forbidden("Read-Only contacts cannot close or reopen cases")
        headers = {"Idempotency-Key": key} if key else {}
        path = f"/cases/{ref}/{name}"
        accepted: Json = await self.api.intake("POST", person, path, json=body, headers=headers)
        wait = str(min(10.0, self.settings.read_your_writes_s))
        outcome: Json = await self.api.feed(
            person, f"/cases/{ref}/commands/{accepted['command_id']}", {"wait": wait}
        )
        if outcome.get("outcome") == "rejected":
            raise Refused(str(outcome.get("reason") or f"the case could not be {name}ed"), [])
        return str(outcome.get("outcome"))

    async def _case_visible(self, person: Person, ref: str) -> bool:
        try:
            await self.api.feed(person, f"/cases/{ref}", {"feed_page_size": "1"})
        except CaseNotFound:
            return False
        return True

    async def _post_visible(self, person: Person, ref: str, posted: Json) -> bool:
        page = await self.api.feed(person, f"/cases/{ref}/feed", {"page_size": "20"})
        return any(
            item.get("kind") == "post"
            and item.get("actor", {}).get("id") == person.contact_id
            and item.get("body_html") == posted.get("body_html")
            for item in page.get("items", [])
        )

    async def _until(self, seen: Any) -> bool:
        """Poll `seen` until true or the read-your-writes wait is over."""
        deadline = time.monotonic() + self.settings.read_your_writes_s
        while True:
            if await seen():
                return True
            if time.monotonic() >= deadline:
                log.warning(
                    "the feed did not show a write within %.1f s", self.settings.read_your_writes_s
                )
                return False
            await asyncio.sleep(POLL_SECONDS)
