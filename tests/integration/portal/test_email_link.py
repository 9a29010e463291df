"""The one-time sign-in link: asked for on the portal, read from the real mailbox, used once."""

import re

import httpx

from tests.integration.portal.conftest import Site

LISA = "lisa.turtle@bayside.example"  # Technical, Bayside
SUBJECT = "Your Support Portal sign-in link"


def _link_in_mailbox(site: Site, address: str) -> str:
    """The sign-in link this portal (its own port) mailed to `address`, newest first."""
    with httpx.Client(base_url=site.mailbox, timeout=10) as mailbox:
        for entry in mailbox.get("/api/messages", params={"to": address}).json()[:20]:
            if entry["subject"] != SUBJECT:
                continue
            text = mailbox.get(f"/api/messages/{entry['id']}").json()["text"] or ""
            found = re.search(re.escape(site.portal) + r"/signin/link\?token=\S+", text)
            if found:
                return found.group(0)
    raise AssertionError(f"no sign-in link from {site.portal} for {address} in the mailbox")


def test_emailed_link_signs_in_once(site: Site, cleanup: None) -> None:
    """Lisa asks for a link; the mail reaches the SMTP sink; it signs her in once only."""
    with httpx.Client(base_url=site.portal, timeout=30) as browser:
        asked = browser.post("/signin/email", data={"email": LISA})
        assert asked.status_code == 200
        assert "Check your email" in asked.text
        link = _link_in_mailbox(site, LISA)
        landing = browser.get(link)
        token = re.search(r'name="token" value="([^"]+)"', landing.text)
        assert token
        used = browser.post("/signin/link", data={"token": token.group(1)})
        assert used.status_code == 303
        page = browser.get("/cases")
        assert page.status_code == 200
        assert "Lisa Turtle (TESTING)" in page.text
    with httpx.Client(base_url=site.portal, timeout=30) as other:
        again = other.post("/signin/link", data={"token": token.group(1)})
        assert again.status_code == 400
        assert "already used" in again.text
        assert other.get("/cases").status_code == 303
