"""Manage Notification Recipients: the seed's wizard for authorized contacts, "Add me" for
Read-Only contacts, all as plain form posts."""

import re
import uuid

import httpx
import pytest

from tests.integration.portal.conftest import SCREECH, ZACK, Site, sign_in
from tests.integration.portal.test_without_js import _submit_question, csrf_of


@pytest.fixture(scope="module")
def case_url(site: Site, cleanup: None) -> str:
    """A case Zack submitted (he is its owner)."""
    with httpx.Client(base_url=site.portal, timeout=30) as zack:
        sign_in(zack, site, ZACK)
        answer = _submit_question(zack, f"Recipients {uuid.uuid4().hex[:6]}")
        return answer.headers["location"].split("?")[0]


def _names(html: str) -> list[str]:
    table = html.split("<h2>View Recipients</h2>", 1)[1]
    return [n.strip() for n in re.findall(r"<tr><td>([^<]+)", table)]


def test_add_then_remove_a_recipient(site: Site, case_url: str) -> None:
    """Add lists authorized contacts only; confirm adds Lisa; Remove never lists the owner."""
    with httpx.Client(base_url=site.portal, timeout=30) as zack:
        sign_in(zack, site, ZACK)
        start = zack.get(f"{case_url}/recipients")
        assert "Manage Notification Recipients" in start.text
        assert "Zack Morris (TESTING)" in _names(start.text)
        pick = zack.get(f"{case_url}/recipients", params={"action": "add"}).text
        assert "Lisa Turtle (TESTING)" in pick
        assert "Powers (TESTING)" not in pick  # Read-Only contacts are not listed
        confirm = zack.get(
            f"{case_url}/recipients", params={"action": "add", "contact_id": "lisa-turtle"}
        ).text
        assert "Confirm: add these contacts" in confirm
        added = zack.post(
            f"{case_url}/recipients",
            data={"csrf_token": csrf_of(confirm), "action": "add", "contact_id": "lisa-turtle"},
        )
        assert added.status_code == 303
        done = zack.get(added.headers["location"]).text
        assert "added successfully" in done
        assert "Lisa Turtle (TESTING)" in _names(done)
        pick = zack.get(f"{case_url}/recipients", params={"action": "remove"}).text
        form = pick.split('id="pick-title"', 1)[1].split("</form>", 1)[0]
        assert "Lisa Turtle (TESTING)" in form
        assert "Zack Morris (TESTING)" not in form  # the owner is not listed
        removed = zack.post(
            f"{case_url}/recipients",
            data={"csrf_token": csrf_of(pick), "action": "remove", "contact_id": "lisa-turtle"},
        )
        assert removed.status_code == 303
        assert "Lisa Turtle (TESTING)" not in _names(zack.get(removed.headers["location"]).text)


def test_read_only_adds_and_removes_only_themselves(site: Site, case_url: str) -> None:
    """Screech sees "Add me to notifications on this case", then "Remove me"; no wizard."""
    with httpx.Client(base_url=site.portal, timeout=30) as screech:
        sign_in(screech, site, SCREECH)
        page = screech.get(f"{case_url}/recipients").text
        assert "Add me to notifications on this case" in page
        assert "Select Action" not in page
        added = screech.post(
            f"{case_url}/recipients",
            data={"csrf_token": csrf_of(page), "action": "add", "contact_id": "lisa-turtle"},
        )
        assert added.status_code == 303
        after = screech.get(f"{case_url}/recipients").text
        assert "Samuel Powers (TESTING)" in _names(after)
        assert "Lisa Turtle (TESTING)" not in _names(after)  # only themselves, whatever is sent
        assert "Remove me from notifications on this case" in after
