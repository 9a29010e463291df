"""Modify Support Contacts cases applied to the directory from the staff case page, on the real
stack: add, modify and replace through intake's directory API as the staff member, the public
post that records it, the district's recipient picker, a replaced contact's revoked token, a
second apply, and refusals next to the control."""

import asyncio
import re
import uuid
from typing import Any

import httpx
import pytest

from shared.enums import ActorKind
from shared.identity import IdentityKeys
from tests.browser import ARGS, CHROMIUM
from tests.integration.portal.conftest import SIGNING_KEY, ZACK
from tests.integration.portal.test_browser import axe_violations
from tests.integration.portal.test_staff_workspace import (
    SHOTS,
    StaffSite,
    csrf,
    eventually,
    provider_sign_in,
    staff_client,
    staff_site,
)

__all__ = ["staff_site"]  # the module's own processes (one start for this module)

AL = "al.accounts@vendor.example"  # Account Management: where Modify Support Contacts go
LISA_TOKEN = "local-dev-only-lisa-turtle-token"  # the seed's token of Lisa Turtle


def submit_change(site: StaffSite, request_type: str, **fields: Any) -> int:
    """Zack submits a Modify Support Contacts case through intake; its number."""
    token = IdentityKeys(SIGNING_KEY).issue(ActorKind.CONTACT, "zack-morris")
    body = {
        "case_type": "Modify Support Contacts",
        "subject": f"{request_type} a contact {uuid.uuid4().hex[:6]}",
        "description": "Please update our support contacts.",
        "request_type": request_type,
        "contact_title": "Systems Administrator",
        "contact_primary_phone": "555-0142",
        "contact_type": "Technical",
        "areas_of_responsibility": ["SIS", "Finance"],
        **fields,
    }
    answer = httpx.post(
        f"{site.intake}/cases", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["case_number"])


def newcomer(first: str) -> dict[str, str]:
    """A person the directory does not have yet, with an email no one else has."""
    tag = uuid.uuid4().hex[:6]
    return {
        "contact_first_name": first,
        "contact_last_name": f"Kapowski {tag}",
        "contact_email": f"{first.lower()}.{tag}@bayside.example",
    }


def panel_of(html: str) -> str:
    """The contact change panel of a staff case page."""
    assert 'id="contact-change"' in html, html[:2000]
    return html.split('id="contact-change"', 1)[1].split("</section>", 1)[0]


def apply(client: httpx.Client, number: int) -> httpx.Response:
    """Press the panel's Apply button (a plain form post with the page's CSRF token)."""
    page = client.get(f"/staff/cases/{number}")
    assert page.status_code == 200, page.text
    return client.post(
        f"/staff/cases/{number}/contact-change", data={"csrf_token": csrf(page.text)}
    )


def open_case(client: httpx.Client, number: int) -> str:
    """The staff case page once routing has the case."""
    eventually(lambda: client.get(f"/staff/cases/{number}").status_code == 200, "case routed")
    return client.get(f"/staff/cases/{number}").text


def zack_client(site: StaffSite) -> httpx.Client:
    """Zack Morris signed in to the portal through the districts' provider."""
    zack = httpx.Client(base_url=site.portal, timeout=30)
    back = provider_sign_in(zack, f"{site.portal}/auth/start?next=/cases", ZACK)
    assert back.status_code == 303, back.text
    return zack


def picker(zack: httpx.Client, number: int) -> str:
    """The contacts the Add step of the recipient wizard offers on Zack's case."""
    page = zack.get(f"/cases/{number}/recipients", params={"action": "add"})
    assert page.status_code == 200, page.text
    return page.text


def records(html: str) -> int:
    """How many posts on a page record an applied change."""
    return len(re.findall(r"Applied to the directory: ", html))


def test_add_is_applied_once_recorded_and_listed_in_the_picker(staff_site: StaffSite) -> None:
    """Al applies an Add case: the panel shows the entered fields, intake adds the contact,
    the case carries a public post saying what was applied (Zack sees it), the new contact is
    in Zack's recipient picker, and a second Apply changes nothing and says so."""
    kelly = newcomer("Kelly")
    number = submit_change(staff_site, "Add", **kelly)
    al = staff_client(staff_site, AL)
    shown = panel_of(open_case(al, number))
    for value in ("Add", kelly["contact_email"], "Systems Administrator", "SIS, Finance"):
        assert value in shown
    assert "Confirm: apply to the directory" in shown

    applied = apply(al, number)
    assert applied.status_code == 303, applied.text
    assert "contact_change=applied" in applied.headers["location"]
    name = f"Kelly {kelly['contact_last_name']}"
    wanted = (
        f"Applied to the directory: added {name} ({kelly['contact_email']}), "
        "support access Technical"
    )
    eventually(lambda: wanted in al.get(f"/staff/cases/{number}").text, "the recorded post")
    assert "Applied by Al Accounts" in panel_of(al.get(f"/staff/cases/{number}").text)

    zack = zack_client(staff_site)
    eventually(lambda: wanted in zack.get(f"/cases/{number}").text, "Zack seeing the post")
    assert name in picker(zack, number)

    again = al.post(
        f"/staff/cases/{number}/contact-change",
        data={"csrf_token": csrf(al.get(f"/staff/cases/{number}").text)},
    )
    assert again.status_code == 303, again.text
    assert "contact_change=already" in again.headers["location"]
    assert "Already applied" in al.get(again.headers["location"]).text
    assert records(zack.get(f"/cases/{number}").text) == 1
    assert picker(zack, number).count(name) == 1


def test_an_email_of_another_contact_is_refused_with_intakes_words(
    staff_site: StaffSite,
) -> None:
    """An Add case for Lisa Turtle's email: intake's 409 shows next to the Apply control, and
    nothing is recorded."""
    person = {**newcomer("Lisa"), "contact_email": "lisa.turtle@bayside.example"}
    number = submit_change(staff_site, "Add", **person)
    al = staff_client(staff_site, AL)
    open_case(al, number)
    refused = apply(al, number)
    assert refused.status_code == 422, refused.text
    error = refused.text.split('id="contact-change-error"', 1)[1].split("</p>", 1)[0]
    assert "already belongs to the contact Lisa Turtle (TESTING) (lisa-turtle)" in error
    assert records(refused.text) == 0


def test_modify_gives_screech_technical_access(staff_site: StaffSite) -> None:
    """A Modify case makes Samuel Powers (Read-Only) a Technical contact: the panel shows his
    support access before and after, and he then appears in the picker, which lists no
    Read-Only contacts (000)."""
    screech = {
        "contact_first_name": "Samuel",
        "contact_last_name": "Powers (TESTING)",
        "contact_email": "screech.powers@bayside.example",
    }
    number = submit_change(staff_site, "Modify", **screech)
    zack = zack_client(staff_site)
    assert "Powers (TESTING)" not in picker(zack, number)
    al = staff_client(staff_site, AL)
    shown = panel_of(open_case(al, number))
    assert "Read-Only" in shown
    assert "Technical" in shown
    assert "<code>screech-powers</code>" in shown
    applied = apply(al, number)
    assert applied.status_code == 303, applied.text
    eventually(lambda: "Powers (TESTING)" in picker(zack, number), "Samuel in the picker")
    wanted = "Applied to the directory: modified Samuel Powers (TESTING)"
    eventually(lambda: wanted in zack.get(f"/cases/{number}").text, "the recorded post")


def test_modify_of_nobody_offers_no_apply(staff_site: StaffSite) -> None:
    """A Modify case for a person the district does not have says so; there is no button."""
    number = submit_change(staff_site, "Modify", **newcomer("Nobody"))
    al = staff_client(staff_site, AL)
    shown = panel_of(open_case(al, number))
    assert "there is no contact to modify" in shown
    assert "Confirm: apply to the directory" not in shown
    refused = apply(al, number)
    assert refused.status_code == 422


def test_replace_ends_the_old_contacts_access(staff_site: StaffSite) -> None:
    """A Replace case for Lisa Turtle (retired): the new contact is in the picker, Lisa is not,
    and her token no longer authenticates at intake."""
    lisa = {"Authorization": f"Bearer {LISA_TOKEN}"}
    assert httpx.get(f"{staff_site.intake}/directory/contacts", headers=lisa).status_code == 200
    jessie = newcomer("Jessie")
    number = submit_change(
        staff_site, "Replace", contact_replacement_name="Lisa Turtle (TESTING)", **jessie
    )
    al = staff_client(staff_site, AL)
    shown = panel_of(open_case(al, number))
    assert "replaces Lisa Turtle (TESTING)" in shown
    applied = apply(al, number)
    assert applied.status_code == 303, applied.text
    zack = zack_client(staff_site)
    name = f"Jessie {jessie['contact_last_name']}"
    pick = picker(zack, number)
    assert name in pick
    assert "Lisa Turtle (TESTING)" not in pick
    assert httpx.get(f"{staff_site.intake}/directory/contacts", headers=lisa).status_code == 401
    wanted = "replacing Lisa Turtle (TESTING) (lisa.turtle@bayside.example)"
    eventually(lambda: wanted in zack.get(f"/cases/{number}").text, "the recorded post")
    eventually(
        lambda: "Applied by Al Accounts" in panel_of(al.get(f"/staff/cases/{number}").text),
        "the panel showing it applied",
    )


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
async def test_the_panel_in_the_browser(staff_site: StaffSite) -> None:
    """The panel of an Add case has no axe violation, opens its confirmation and applies by
    keyboard; the screenshot is docs/portal/staff-contact-change.png."""
    from playwright.async_api import async_playwright

    kelly = newcomer("Kelly")
    number = await asyncio.to_thread(submit_change, staff_site, "Add", **kelly)
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(f"{staff_site.portal}/staff/signin")
        await page.click("text=Sign in with your vendor account")
        await page.click(f"button[name=sub][value='{AL}']")
        await page.wait_for_url("**/staff/queues/**")
        for _ in range(100):
            await page.goto(f"{staff_site.portal}/staff/cases/{number}")
            if await page.query_selector("#contact-change"):
                break
            await asyncio.sleep(0.3)
        await page.click(".contact-change-confirm > summary")
        await page.wait_for_selector("#contact-change-form button")
        assert await axe_violations(page) == []
        await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "staff-contact-change.png"), full_page=True)
        await page.focus("#contact-change-form button")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("text=Done: applied to the directory")
        assert await axe_violations(page) == []
        await browser.close()
