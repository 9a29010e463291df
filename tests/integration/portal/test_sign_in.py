"""Sign-in through the real OIDC provider: a seed contact gets a session, a stranger a page."""

import httpx

from tests.integration.portal.conftest import SCREECH, ZACK, Site, sign_in


def test_contact_signs_in_and_out(site: Site, cleanup: None) -> None:
    """Zack signs in through the provider, lands on his cases, and signs out."""
    with httpx.Client() as client:
        sign_in(client, site, ZACK)
        page = client.get(f"{site.portal}/cases")
        assert page.status_code == 200, page.text
        assert "Zack Morris (TESTING)" in page.text
        assert "Bayside School (TESTING)" in page.text
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        out = client.post(f"{site.portal}/signout", data={"csrf_token": token})
        assert out.status_code == 303
        assert client.get(f"{site.portal}/cases").status_code == 303


def test_unknown_email_gets_a_clear_page(site: Site, cleanup: None) -> None:
    """An address the provider vouches for but the directory does not know gets a 403 page."""
    with httpx.Client() as client:
        start = client.get(f"{site.portal}/auth/start")
        authorize = start.headers["location"]
        granted = client.post(authorize, data={"sub": "nobody@elsewhere.example"})
        back = client.get(granted.headers["location"])
        assert back.status_code == 403
        assert "nobody@elsewhere.example" in back.text
        assert "not an active support contact" in back.text
        assert "portal_session" not in client.cookies


def test_callback_from_another_browser_is_refused(site: Site, cleanup: None) -> None:
    """A callback URL replayed in a browser that did not start the sign-in gets no session."""
    with httpx.Client() as victim, httpx.Client() as attacker:
        start = attacker.get(f"{site.portal}/auth/start")
        granted = attacker.post(start.headers["location"], data={"sub": SCREECH})
        back = victim.get(granted.headers["location"])
        assert back.status_code == 400
        assert "portal_session" not in victim.cookies
