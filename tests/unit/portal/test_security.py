"""The portal's session defences on fakes: CSRF, fixation, open redirects, cookie flags."""

from collections.abc import AsyncIterator

import httpx
import pytest
from portal.app import create_app
from portal.service import CookieCodec, Portal
from portal.settings import Settings

from tests.unit.portal.fakes import FakeApi, FakeLinks, FakeMailer, FakeOidc, directory, portal
from tests.unit.portal.test_pages import BASE, csrf_of, sign_in

EVIL = "//evil.example/steal"


async def client_for(fake: Portal, base: str = BASE) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client on the portal app built around `fake`."""
    app = create_app(fake.settings, fake)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            yield client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The portal on fakes with its local settings."""
    async for each in client_for(portal()):
        yield each


def set_cookies(answer: httpx.Response, name: str) -> list[str]:
    """The Set-Cookie headers of `answer` for cookie `name`."""
    return [v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith(name)]


async def test_post_with_another_sessions_token_is_403(client: httpx.AsyncClient) -> None:
    """A CSRF token of an earlier session does not pass for the current one."""
    await sign_in(client)
    old = csrf_of((await client.get("/cases/1227963")).text)
    await sign_in(client)
    answer = await client.post("/cases/1227963/posts", data={"body": "hi", "csrf_token": old})
    assert answer.status_code == 403


async def test_sign_out_without_token_keeps_the_session(client: httpx.AsyncClient) -> None:
    """A cross-site sign-out (no token) is refused and the person stays signed in."""
    await sign_in(client)
    answer = await client.post("/signout")
    assert answer.status_code == 403
    assert (await client.get("/cases")).status_code == 200


async def test_planted_session_cookie_is_replaced_at_sign_in(client: httpx.AsyncClient) -> None:
    """A session cookie set before sign-in (fixation) is replaced, with a new CSRF token."""
    await sign_in(client)
    planted = client.cookies["portal_session"]
    planted_csrf = csrf_of((await client.get("/cases/1227963")).text)
    domain = next(c.domain for c in client.cookies.jar if c.name == "portal_session")
    client.cookies.clear()
    client.cookies.set("portal_session", planted, domain=domain)
    await sign_in(client)
    assert client.cookies["portal_session"] != planted
    assert csrf_of((await client.get("/cases/1227963")).text) != planted_csrf


@pytest.mark.parametrize("target", [EVIL, "https://evil.example/", "/\\evil.example"])
async def test_sign_in_never_returns_off_site(client: httpx.AsyncClient, target: str) -> None:
    """`next` pointing to another site ends the sign-in on the portal's own start page."""
    start = await client.get("/auth/start", params={"next": target})
    assert start.status_code == 303
    back = await client.get("/auth/callback", params={"code": "c", "state": "st"})
    assert back.status_code == 303
    assert back.headers["location"] == "/"


async def test_sign_in_page_drops_an_off_site_next(client: httpx.AsyncClient) -> None:
    """The sign-in page does not carry `next=//evil.example` into its links and forms."""
    page = await client.get("/signin", params={"next": EVIL})
    assert page.status_code == 200
    assert "evil.example" not in page.text


async def test_district_switch_never_returns_off_site() -> None:
    """Switching district with `next=//evil.example` lands on the portal's start page."""
    fake = portal()
    assert isinstance(fake.oidc, FakeOidc)
    fake.oidc.email = "slater@bayside.example"  # a contact of two districts
    async for client in client_for(fake):
        await sign_in(client)
        token = csrf_of((await client.get("/cases")).text)
        answer = await client.post(
            "/district", data={"csrf_token": token, "account_id": "ridgemont", "next": EVIL}
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"


async def test_cookies_are_secure_outside_local() -> None:
    """In production the session and sign-in cookies are Secure, HttpOnly and SameSite=Lax."""
    settings = Settings(environment="production", read_your_writes_s=0.0)
    secret = settings.session_secret.get_secret_value()
    fake = Portal(
        settings,
        directory(),
        FakeOidc(),
        FakeApi(),
        CookieCodec(secret),
        FakeLinks(),
        FakeMailer(),
    )
    async for client in client_for(fake, "https://portal.test"):
        start = await client.get("/auth/start")
        (login,) = set_cookies(start, "portal_login")
        back = await client.get("/auth/callback", params={"code": "c", "state": "st"})
        (session,) = set_cookies(back, "portal_session")
        for cookie in (login, session):
            assert "; Secure" in cookie
            assert "; HttpOnly" in cookie
            assert "SameSite=lax" in cookie
            assert "; Path=/" in cookie
        assert "Max-Age=28800" in session
