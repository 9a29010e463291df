"""The staff workspace on the real stack: vendor sign-in, queue, take, moves, refusals, posts."""

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import devstack
from shared.enums import ActorKind
from shared.identity import IdentityKeys
from tests.browser import ARGS, CHROMIUM, OUTPUT
from tests.integration.portal.conftest import (
    SEED,
    SIGNING_KEY,
    ZACK,
    _provider_users,
    _start,
    _wait_ready,
    free_port,
)
from tests.integration.portal.test_browser import axe_violations, tab_to

PAT = "pat.support@vendor.example"  # Campus Support
SKY = "sky.supervisor@vendor.example"  # supervisor of Campus Support
BOARD_TOKEN = "a-status-board-admin-token-for-the-staff-tests"
TIA = "tia.training@vendor.example"  # Training only
# `PORTAL_SCREENSHOTS_DIR=docs/portal` refreshes the docs' screenshots.
SHOTS = Path(os.environ.get("PORTAL_SCREENSHOTS_DIR") or OUTPUT)


@dataclass
class StaffSite:
    """The processes' URLs."""

    portal: str
    intake: str
    routing: str
    namespace: str
    feed: str = ""
    mailbox: str = ""
    board: str = ""


def _staff_users() -> list[str]:
    """The seed's staff as the vendor provider's users: sub and email are the address."""
    seed = json.loads(SEED.read_text(encoding="utf-8"))
    users = []
    for member in seed["staff"]:
        claims = {"sub": member["email"], "email": member["email"], "name": member["name"]}
        users += ["--user-claims", json.dumps(claims)]
    return users


@pytest.fixture(scope="module")
def staff_site(
    stack: devstack.StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaffSite]:
    """Both identity providers (districts', vendor's), intake, routing, feed and the portal,
    each its own process on free ports under a private namespace."""
    logs = tmp_path_factory.mktemp("staff-logs")
    namespace = "s" + uuid.uuid4().hex[:8]
    names = ("portal", "intake", "routing", "feed", "notify", "oidc", "vendor", "board", "admin")
    ports = {name: free_port() for name in names}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "MONGO_URL": stack.mongo_url,
        "TOPIC_NAMESPACE": namespace,
        "IDENTITY_SIGNING_KEY": SIGNING_KEY,
        "LOG_FORMAT": "text",
    }
    provider = [sys.executable, "-m", "oidc_provider_mock", "--port"]
    discovery = "/.well-known/openid-configuration"
    specs = [
        ("oidc", [*provider, str(ports["oidc"]), *_provider_users()], {}, discovery),
        ("vendor", [*provider, str(ports["vendor"]), *_staff_users()], {}, discovery),
        (
            "intake",
            [sys.executable, "-m", "intake"],
            {
                "INTAKE_PORT": str(ports["intake"]),
                "INTAKE_MONGO_DATABASE": f"intake_{namespace}",
                "INTAKE_SEED_FILE": str(SEED),
                "INTAKE_RATE_PER_SECOND": "1000",
                "INTAKE_RATE_BURST": "1000",
            },
            "/readyz",
        ),
        (
            "routing",
            [sys.executable, "-m", "routing"],
            {
                "ROUTING_PORT": str(ports["routing"]),
                "ROUTING_MONGO_DATABASE": f"routing_{namespace}",
            },
            "/readyz",
        ),
        (
            "feed",
            [sys.executable, "-m", "feed"],
            {"FEED_PORT": str(ports["feed"]), "FEED_MONGO_DATABASE": f"feed_{namespace}"},
            "/readyz",
        ),
        (
            "notify",
            [sys.executable, "-m", "notify"],
            {
                "NOTIFY_PORT": str(ports["notify"]),
                "NOTIFY_MONGO_DATABASE": f"notify_{namespace}",
                "NOTIFY_PORTAL_URL": urls["portal"],
                "SMTP_HOST": stack.smtp_host,
                "SMTP_PORT": str(stack.smtp_port),
            },
            "/readyz",
        ),
        (
            "board",
            [sys.executable, "-m", "status_board"],
            {
                "STATUS_BOARD_PORT": str(ports["board"]),
                "STATUS_BOARD_ADMIN_PORT": str(ports["admin"]),
                "STATUS_BOARD_DATA_DIR": str(logs / "board-data"),
                "STATUS_BOARD_ADMIN_TOKEN": BOARD_TOKEN,
                "STATUS_BOARD_PUBLIC_URL": urls["board"],
            },
            "/readyz",
        ),
        (
            "portal",
            [sys.executable, "-m", "portal"],
            {
                "PORTAL_STATUS_BOARD_URL": urls["board"],
                "PORTAL_STATUS_BOARD_ADMIN_URL": urls["admin"],
                "PORTAL_STATUS_BOARD_ADMIN_TOKEN": BOARD_TOKEN,
                "PORTAL_PORT": str(ports["portal"]),
                "PORTAL_BASE_URL": urls["portal"],
                "PORTAL_INTAKE_URL": urls["intake"],
                "PORTAL_FEED_URL": urls["feed"],
                "PORTAL_ROUTING_URL": urls["routing"],
                "PORTAL_OIDC_ISSUER": urls["oidc"],
                "PORTAL_STAFF_OIDC_ISSUER": urls["vendor"],
                "PORTAL_READ_YOUR_WRITES_S": "10",
                "PORTAL_MONGO_DATABASE": f"portal_{namespace}",
            },
            "/readyz",
        ),
    ]
    processes = []
    try:
        for name, args, env, ready in specs:
            log = logs / f"{name}.log"
            processes.append(_start(args, {**common, **env}, log))
            _wait_ready(urls[name] + ready, processes[-1], log)
        yield StaffSite(
            urls["portal"],
            urls["intake"],
            urls["routing"],
            namespace,
            urls["feed"],
            stack.mailbox_url,
            urls["board"],
        )
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except Exception:
                process.kill()


def provider_sign_in(client: httpx.Client, start: str, email: str) -> httpx.Response:
    """Through a provider's real form as a browser without JS: answers the portal's redirect."""
    begun = client.get(start)
    assert begun.status_code == 303, begun.text
    authorize = begun.headers["location"]
    assert client.get(authorize).status_code == 200
    granted = client.post(authorize, data={"sub": email})
    assert granted.status_code in (302, 303), granted.text
    return client.get(granted.headers["location"])


def staff_client(site: StaffSite, email: str) -> httpx.Client:
    """A browser-like client signed in as a staff member through the vendor's provider."""
    client = httpx.Client(base_url=site.portal, timeout=30)
    back = provider_sign_in(client, f"{site.portal}/staff/auth/start", email)
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/staff"
    return client


def eventually(probe: Callable[[], bool], what: str, limit: float = 30) -> None:
    """Wait until `probe` holds (the pipeline is asynchronous), failing with `what`."""
    deadline = time.monotonic() + limit
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.3)


def csrf(html: str) -> str:
    """The CSRF token of the page's first form."""
    return html.split('name="csrf_token" value="')[1].split('"')[0]


def submit(site: StaffSite, subject: str) -> int:
    """Zack submits an Ask a Question case through intake; its number."""
    token = IdentityKeys(SIGNING_KEY).issue(ActorKind.CONTACT, "zack-morris")
    body = {
        "case_type": "Ask a Question",
        "subject": subject,
        "description": "How do we add a snow day to the calendar?",
        "module": "Calendar (terms, periods, days)",
    }
    answer = httpx.post(
        f"{site.intake}/cases", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["case_number"])


def contact_post(site: StaffSite, number: int, body: str) -> None:
    """Zack posts to the case through intake."""
    token = IdentityKeys(SIGNING_KEY).issue(ActorKind.CONTACT, "zack-morris")
    answer = httpx.post(
        f"{site.intake}/cases/{number}/posts",
        data={"body": body},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code in (200, 201), answer.text


def test_staff_work_a_case_from_queue_to_contact(staff_site: StaffSite) -> None:
    """Pat signs in at the vendor's provider, finds Zack's case in Campus Support with its
    fields, takes it, asks a question, has a move refused with routing's reason, posts an
    explanation with a file (which staff download), and Zack sees it on his case page."""
    subject = f"Snow day {uuid.uuid4().hex[:6]}"
    number = submit(staff_site, subject)
    pat = staff_client(staff_site, PAT)
    queue = f"/staff/queues/campus-support?subject={subject.split()[-1]}"
    eventually(lambda: str(number) in pat.get(queue).text, "the case in the queue")
    row = pat.get(queue).text.split(f">{number}</a>")[1].split("</tr>")[0]
    for value in (subject, "Bayside", "Ask a Question", "Medium"):
        assert value in row

    page = pat.get(f"/staff/cases/{number}")
    taken = pat.post(
        f"/staff/cases/{number}/assign", data={"csrf_token": csrf(page.text), "assignee_id": "me"}
    )
    assert taken.status_code == 303, taken.text
    eventually(
        lambda: "Assignee: <strong>Pat Support</strong>" in pat.get(f"/staff/cases/{number}").text,
        "Pat as the assignee",
    )

    page = pat.get(f"/staff/cases/{number}")
    question = "Which school calendar is missing the snow day?"
    asked = pat.post(
        f"/staff/cases/{number}/status/pending-customer-input",
        data={"csrf_token": csrf(page.text), "note": question},
    )
    assert asked.status_code == 303, asked.text
    eventually(
        lambda: "<dd>Pending Customer Input</dd>" in pat.get(f"/staff/cases/{number}").text,
        "the case pending customer input",
    )

    page = pat.get(f"/staff/cases/{number}")
    assert "Move to Available in Release" not in page.text
    refused = pat.post(
        f"/staff/cases/{number}/status/available-in-release",
        data={"csrf_token": csrf(page.text), "note": "Fixed", "release_name": "2026.4"},
    )
    assert refused.status_code == 422
    assert "That move was refused" in refused.text
    assert "allowed: Assigned, Pending Customer Verification, Scheduled, Closed" in refused.text

    explanation = f"We found the calendar setting {uuid.uuid4().hex[:6]}"
    steps = b"1. System Admin > Calendar\n2. Add the day\n"
    posted = pat.post(
        f"/staff/cases/{number}/posts",
        data={"csrf_token": csrf(page.text), "body": explanation},
        files={"files": ("steps.txt", steps, "text/plain")},
    )
    assert posted.status_code == 303, posted.text
    link = f'href="/staff/cases/{number}/attachments/'
    eventually(lambda: link in pat.get(f"/staff/cases/{number}").text, "the staff attachment")
    attachment = pat.get(f"/staff/cases/{number}").text.split(link)[1].split('"')[0]
    assert pat.get(f"/staff/cases/{number}/attachments/{attachment}").content == steps

    zack = httpx.Client(base_url=staff_site.portal, timeout=30)
    back = provider_sign_in(zack, f"{staff_site.portal}/auth/start?next=/cases", ZACK)
    assert back.status_code == 303, back.text
    eventually(lambda: explanation in zack.get(f"/cases/{number}").text, "Zack seeing the post")
    assert question in zack.get(f"/cases/{number}").text
    assert zack.get("/staff/queues/campus-support").status_code == 404


def test_staff_of_another_department_cannot_work_the_case(staff_site: StaffSite) -> None:
    """Tia (Training) has no Campus Support queue and sees no controls on its case; every
    action sent by URL (each move, assign, transfer, the assessment, the priority, a public
    post, an internal note, an incident link and unlink, applying a contact change) is
    refused, and the case is as it was: routing's view unchanged, no post on the feed."""
    number = submit(staff_site, f"Grades {uuid.uuid4().hex[:6]}")
    tia = staff_client(staff_site, TIA)
    assert tia.get("/staff/queues/campus-support").status_code == 404
    assert tia.post("/staff/queues/campus-support/take").status_code in (403, 404)
    eventually(lambda: tia.get(f"/staff/cases/{number}").status_code == 200, "the case routed")
    page = tia.get(f"/staff/cases/{number}")
    assert "outside your departments" in page.text
    assert "Move to" not in page.text
    assert "Link to an open incident" not in page.text
    token = csrf(page.text)
    headers = _bearer(ActorKind.STAFF, "staff-supervisor")
    before = httpx.get(f"{staff_site.routing}/cases/{number}", headers=headers).json()
    feed_before = _contact_feed(staff_site, number)
    moves = [f"status/{slug}" for slug in ("assigned", "pending-customer-input", "closed")]
    actions = {
        **{move: {"note": "by URL"} for move in moves},
        "assign": {"assignee_id": "me"},
        "transfer": {"department": "Training", "reason": "by URL"},
        "triage": {"disruption": "Severe", "blocked": "yes"},
        "priority": {"priority": "High", "reason": "by URL"},
        "posts": {"body": "by URL", "visibility": "public"},
        "incidents": {"notice_id": "inc-anything"},
        "incidents/inc-anything/unlink": {},
        "contact-change": {},
    }
    for action, form in actions.items():
        sent = tia.post(f"/staff/cases/{number}/{action}", data={"csrf_token": token, **form})
        assert sent.status_code in (403, 404, 422), (action, sent.status_code)
    note = {"csrf_token": token, "body": "internal by URL", "visibility": "internal"}
    assert tia.post(f"/staff/cases/{number}/posts", data=note).status_code in (403, 404, 422)
    after = httpx.get(f"{staff_site.routing}/cases/{number}", headers=headers).json()
    kept = ("status", "assignee", "department", "priority", "triage", "incidents")
    assert {k: after.get(k) for k in kept} == {k: before.get(k) for k in kept}
    assert "by URL" not in _contact_feed(staff_site, number)
    assert _contact_feed(staff_site, number) == feed_before


# --- in the browser: axe on each staff screen, the keyboard alone from take to resolve ------


async def _browser_staff(browser: Any, site: StaffSite, email: str) -> Any:
    """A page signed in as the staff member through the vendor provider's form."""
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{site.portal}/staff/signin")
    await page.click("text=Sign in with your vendor account")
    await page.click(f"button[name=sub][value='{email}']")
    await page.wait_for_url("**/staff/queues/**")
    return page


async def _screen(page: Any, shot: str) -> None:
    """No axe violation on the screen; its screenshot as docs/portal/staff-<shot>.png."""
    assert await axe_violations(page) == []
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"staff-{shot}.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
async def test_staff_screens_and_the_keyboard_from_take_to_resolve(staff_site: StaffSite) -> None:
    """Pat signs in at the vendor's provider, sees a new case arrive on the open queue, then
    with Tab and Enter alone takes it, asks the contact a question, posts the resolution and
    sees a blank question refused next to its control, then Zack's reply arrives on the open
    page; no screen has an axe violation."""
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(f"{staff_site.portal}/staff/signin")
        await _screen(page, "signin")
        await page.click("text=Sign in with your vendor account")
        await page.click(f"button[name=sub][value='{PAT}']")
        await page.wait_for_url("**/staff/queues/campus-support")
        # The queue is open before the case exists: it arrives without a reload.
        await page.wait_for_selector("#queue-part")
        subject = f"Keyboard staff {uuid.uuid4().hex[:6]}"
        number = await asyncio.to_thread(submit, staff_site, subject)
        take = f"form[action='/staff/cases/{number}/assign'] button"
        await page.wait_for_selector(take, timeout=30_000)
        await _screen(page, "queue")
        await tab_to(page, take, limit=400)
        await page.keyboard.press("Enter")
        await page.wait_for_selector("text=Done: Assigned")
        assert "Pat Support" in await page.inner_text(".top-panel")
        await _screen(page, "case")
        await _move(page, "pending-customer-input", "Which school calendar lacks the day?")
        await page.wait_for_selector("text=Done: Pending Customer Input")
        await _move(page, "pending-customer-verification", "Added the snow day to the calendar.")
        await page.wait_for_selector("text=Done: Pending Customer Verification")
        assert "Pending Customer Verification" in await page.inner_text(".details")
        await _screen(page, "case-resolved")
        await _move(page, "pending-customer-input", "   ")
        await page.wait_for_selector("#pending-customer-input-error")
        assert "needs the question for the contact" in await page.inner_text(
            "#pending-customer-input-error"
        )
        await _screen(page, "refused")
        reply = f"Thanks, it works {uuid.uuid4().hex[:6]}"
        await asyncio.to_thread(contact_post, staff_site, number, reply)
        await page.wait_for_selector(f"text={reply}", timeout=30_000)  # live, no reload
        await browser.close()


async def _move(page: Any, slug: str, note: str) -> None:
    """Open a move's control, write its note and send it, by keyboard."""
    await tab_to(page, f"details:has(#move-{slug}) > summary", limit=200)
    await page.keyboard.press("Enter")
    await tab_to(page, f"#{slug}-note")
    await page.keyboard.type(note)
    await tab_to(page, f"#move-{slug} button[type=submit]")
    await page.keyboard.press("Enter")


def test_transfer_moves_the_case_to_another_departments_queue(staff_site: StaffSite) -> None:
    """Pat transfers a case to Training with a reason; it leaves Campus Support, Tia finds it
    in the Training queue, and Sky (supervisor of Campus Support) sees that queue too."""
    subject = f"Training wanted {uuid.uuid4().hex[:6]}"
    number = submit(staff_site, subject)
    pat = staff_client(staff_site, PAT)
    eventually(lambda: pat.get(f"/staff/cases/{number}").status_code == 200, "the case routed")
    page = pat.get(f"/staff/cases/{number}")
    reason = "The district asks for a training session, not a fix."
    moved = pat.post(
        f"/staff/cases/{number}/transfer",
        data={"csrf_token": csrf(page.text), "department": "Training", "reason": reason},
    )
    assert moved.status_code == 303, moved.text
    tia = staff_client(staff_site, TIA)
    marker = subject.split()[-1]
    eventually(
        lambda: f">{number}</a>" in tia.get(f"/staff/queues/training?subject={marker}").text,
        "the case in the Training queue",
    )
    assert f">{number}</a>" not in pat.get(f"/staff/queues/campus-support?subject={marker}").text
    sky = staff_client(staff_site, "sky.supervisor@vendor.example")
    assert f">{number}</a>" in sky.get(f"/staff/queues/training?subject={marker}").text
    assert "Move to" in sky.get(f"/staff/cases/{number}").text


# --- internal notes: staff only, through every route, page, search and mail -----------------

CONTACT_SEED_DOMAINS = ("@bayside.example", "@ridgemont.example")


def _bearer(kind: ActorKind, person: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {IdentityKeys(SIGNING_KEY).issue(kind, person)}"}


def _mails_about(site: StaffSite, subject: str) -> list[dict[str, Any]]:
    """Every mail in the sink about the case with this (unique) subject, in full."""
    entries = httpx.get(f"{site.mailbox}/api/messages", timeout=30).json()
    ours = [e for e in entries if subject in e.get("subject", "")]
    return [httpx.get(f"{site.mailbox}/api/messages/{e['id']}", timeout=30).json() for e in ours]


def _to_contacts(mail: dict[str, Any]) -> bool:
    return any(r.endswith(CONTACT_SEED_DOMAINS) for r in mail.get("rcpt_tos", []))


def _post_note(site: StaffSite, pat: httpx.Client, number: int, word: str) -> str:
    """Pat writes an internal note with the word and a file named after it; the file name."""
    page = pat.get(f"/staff/cases/{number}")
    assert 'value="internal"' in page.text
    name = f"internal-{word}.txt"
    noted = pat.post(
        f"/staff/cases/{number}/posts",
        data={
            "csrf_token": csrf(page.text),
            "body": f"Server log says {word}",
            "visibility": "internal",
        },
        files={"files": (name, f"secret {word}\n".encode(), "text/plain")},
    )
    assert noted.status_code == 303, noted.text
    assert "Internal+note+added" in noted.headers["location"]
    return name


def test_an_internal_note_reaches_staff_only(staff_site: StaffSite) -> None:
    """Pat's internal note (a unique word, a file) on an unassigned Campus Support case: staff
    read it marked internal (API, page, download, the department's mail but Pat's); Zack's feed
    read, feed search, case page, attachment list and download (404) and every mail to a
    contact lack it, though a public reply after it reaches him."""
    word = f"quokka{uuid.uuid4().hex[:8]}"
    subject = f"Staff-only words {uuid.uuid4().hex[:6]}"
    number = submit(staff_site, subject)
    pat = staff_client(staff_site, PAT)
    eventually(lambda: pat.get(f"/staff/cases/{number}").status_code == 200, "the case routed")
    filename = _post_note(staff_site, pat, number, word)
    reply = f"Public reply {uuid.uuid4().hex[:8]}"
    page = pat.get(f"/staff/cases/{number}")
    sent = pat.post(
        f"/staff/cases/{number}/posts",
        data={"csrf_token": csrf(page.text), "body": reply, "visibility": "public"},
    )
    assert sent.status_code == 303, sent.text

    staff, zack = (
        _bearer(ActorKind.STAFF, "staff-support"),
        _bearer(ActorKind.CONTACT, "zack-morris"),
    )
    feed = f"{staff_site.feed}/cases/{number}/feed"
    eventually(lambda: reply in httpx.get(feed, headers=staff).text, "both posts in the feed")
    items = httpx.get(feed, headers=staff).json()["items"]
    [note] = [i for i in items if word in (i.get("body_text") or "")]
    assert note["visibility"] == "internal"
    assert [a["filename"] for a in note["attachments"]] == [filename]
    staff_page = pat.get(f"/staff/cases/{number}").text
    assert word in staff_page
    assert "Internal note — not visible to the customer" in staff_page
    file_id = note["attachments"][0]["attachment_id"]
    assert word.encode() in pat.get(f"/staff/cases/{number}/attachments/{file_id}").content

    mine = httpx.get(feed, headers=zack)
    assert mine.status_code == 200
    assert reply in mine.text
    assert word not in mine.text
    assert filename not in mine.text
    searched = httpx.get(feed, params={"q": word}, headers=zack).json()
    assert (searched["total"], searched["items"]) == (0, [])
    detail = httpx.get(f"{staff_site.feed}/cases/{number}", headers=zack).text
    assert word not in detail
    assert filename not in detail
    files = httpx.get(f"{staff_site.intake}/cases/{number}/attachments", headers=zack)
    assert files.status_code == 200
    assert file_id not in files.text
    download = f"{staff_site.intake}/cases/{number}/attachments/{file_id}"
    assert httpx.get(download, headers=zack).status_code == 404
    assert httpx.get(download, headers=staff).status_code == 200

    browser = httpx.Client(base_url=staff_site.portal, timeout=30)
    back = provider_sign_in(browser, f"{staff_site.portal}/auth/start?next=/cases", ZACK)
    assert back.status_code == 303, back.text
    case_page = browser.get(f"/cases/{number}").text
    assert reply in case_page
    assert word not in case_page
    assert filename not in case_page
    assert "not visible to the customer" not in case_page
    assert browser.get(f"/cases/{number}/attachments/{file_id}").status_code == 404

    def mailed(address: str) -> bool:
        return any(
            address in m["rcpt_tos"] and reply in m["raw"]
            for m in _mails_about(staff_site, subject)
        )

    eventually(lambda: mailed("zack.morris@bayside.example"), "the public reply mailed to Zack", 90)
    eventually(
        lambda: any(
            word in m["raw"]
            for m in _mails_about(staff_site, subject)
            if "morgan.lead@vendor.example" in m["rcpt_tos"]
        ),
        "the note mailed to the department's staff",
        90,
    )
    mails = _mails_about(staff_site, subject)
    to_contacts = [m for m in mails if _to_contacts(m)]
    assert to_contacts  # the receipt and the reply at least: the check below is not vacuous
    for mail in to_contacts:
        assert word not in mail["raw"], mail["subject"]
        assert filename not in mail["raw"], mail["subject"]
    noted = [m for m in mails if word in m["raw"]]
    assert {r for m in noted for r in m["rcpt_tos"]} == {
        "morgan.lead@vendor.example",
        "sky.supervisor@vendor.example",
    }  # Campus Support's staff but Pat, its author


def test_a_contact_cannot_write_an_internal_note(staff_site: StaffSite) -> None:
    """Zack (Authorized Support) and Screech (Read-Only) asking for an internal note get a
    403 problem saying only staff write them; nothing is posted."""
    number = submit(staff_site, f"No notes {uuid.uuid4().hex[:6]}")
    for person in ("zack-morris", "screech-powers"):
        refused = httpx.post(
            f"{staff_site.intake}/cases/{number}/posts",
            data={"body": "let me in", "visibility": "internal"},
            headers=_bearer(ActorKind.CONTACT, person),
        )
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "only staff can write internal notes" in refused.text
    feed = httpx.get(
        f"{staff_site.feed}/cases/{number}/feed",
        params={"q": "let me in"},
        headers=_bearer(ActorKind.STAFF, "staff-support"),
    )
    assert feed.json()["total"] == 0


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
async def test_the_staff_case_page_with_an_internal_note_passes_axe(staff_site: StaffSite) -> None:
    """The case page with the share form's choice and a badged internal note has no axe
    violation; the internal choice is reachable and chosen by keyboard."""
    from playwright.async_api import async_playwright

    number = await asyncio.to_thread(submit, staff_site, f"Axe note {uuid.uuid4().hex[:6]}")
    pat = await asyncio.to_thread(staff_client, staff_site, PAT)
    await asyncio.to_thread(
        eventually, lambda: pat.get(f"/staff/cases/{number}").status_code == 200, "the case"
    )
    word = f"wombat{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(_post_note, staff_site, pat, number, word)
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = await _browser_staff(browser, staff_site, PAT)
        await page.goto(f"{staff_site.portal}/staff/cases/{number}")
        await page.wait_for_selector(f"text={word}", timeout=30_000)
        assert "Internal note — not visible to the customer" in await page.inner_text("#feed")
        await tab_to(page, "#post-public")
        await page.keyboard.press("ArrowDown")  # radios: the arrow moves to the next choice
        assert await page.is_checked("#post-internal")
        await _screen(page, "case-internal-note")
        await browser.close()


# --- triage: the impact assessment, its suggestion and the priority change ------------------


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
async def test_the_impact_assessment_suggests_and_the_priority_change_reaches_the_contact(
    staff_site: StaffSite,
) -> None:
    """In chromium Pat answers the seeds' impact questions (Significant, daily functions
    blocked, several users, no workaround): the page suggests High; the Campus Support queue
    filtered to "Blocked, no workaround" lists the case; she sets High with a reason, and Zack's
    feed shows the change and the reason, never the assessment. No axe violation."""
    from playwright.async_api import async_playwright

    subject = f"Grades blocked {uuid.uuid4().hex[:6]}"
    number = await asyncio.to_thread(submit, staff_site, subject)
    pat = await asyncio.to_thread(staff_client, staff_site, PAT)
    await asyncio.to_thread(
        eventually, lambda: pat.get(f"/staff/cases/{number}").status_code == 200, "the case"
    )
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = await _browser_staff(browser, staff_site, PAT)
        await page.goto(f"{staff_site.portal}/staff/cases/{number}")
        assert "Not assessed yet" in await page.inner_text("#triage-title + p")
        await page.check("input[name=disruption][value=Significant]")
        await page.check("input[name=blocked]")
        await page.check("input[name=users]")
        await page.click("#triage-form button[type=submit]")
        await page.wait_for_selector("text=Done: Impact assessment recorded.")
        facts = await page.inner_text(".triage-facts")
        assert "Suggested priority\nHigh (the case is Medium)" in facts
        await _screen(page, "case-triage")
        await page.goto(f"{staff_site.portal}/staff/queues/campus-support?impact=blocked")
        await page.wait_for_selector(f"a[href='/staff/cases/{number}']")
        assert "Blocked, no workaround" in await page.inner_text("tbody")
        await page.goto(f"{staff_site.portal}/staff/cases/{number}")
        await page.click("text=Change the priority")
        assert await page.input_value("#priority-to") == "High"  # the suggestion, preselected
        options = await page.eval_on_selector_all(
            "#priority-to option", "os => os.map(o => o.text)"
        )
        assert options == ["High", "Medium", "Low"]  # no Critical on Ask a Question
        await page.fill("#priority-reason", "Every English teacher is blocked from posting.")
        await page.click("#priority-form button[type=submit]")
        await page.wait_for_selector("text=Done: Priority set to High.")
        await browser.close()

    def contact_feed_text() -> str:
        feed = httpx.get(
            f"{staff_site.feed}/cases/{number}/feed",
            headers=_bearer(ActorKind.CONTACT, "zack-morris"),
            timeout=30,
        ).json()
        return " | ".join(
            " ".join([item["headline"], *item.get("lines", [])]) for item in feed["items"]
        )

    await asyncio.to_thread(
        eventually, lambda: "Priority Medium to High" in contact_feed_text(), "Zack's feed"
    )
    text = await asyncio.to_thread(contact_feed_text)
    assert "Reason: Every English teacher is blocked from posting." in text
    assert "Significant" not in text
    assert "disruption" not in text.lower()


def test_a_supervisor_runs_an_incident_on_the_status_board(staff_site: StaffSite) -> None:
    """Sky opens an incident from the workspace; the status board shows it at once, with
    Pat's queue page linking nowhere near it (not his role); Sky posts an update moving it to
    Monitoring, then resolves it: the board's public API has the updates and Resolved."""
    sky = staff_client(staff_site, SKY)
    page = sky.get("/staff/notices")
    assert page.status_code == 200
    title = f"Gradebook errors {uuid.uuid4().hex[:6]}"
    opened = sky.post(
        "/staff/notices/incidents",
        data={"csrf_token": csrf(page.text), "title": title, "body": "Teachers see errors.",
              "status": "Investigating", "districts": ""},
    )  # fmt: skip
    assert opened.status_code == 303, opened.text

    def public() -> dict[str, Any]:
        notices = httpx.get(f"{staff_site.board}/api/notices", timeout=30).json()["notices"]
        found = [n for n in notices if n["title"] == title]
        return found[0] if found else {}

    assert public()["status"] == "Investigating"
    notice_id = public()["id"]
    page = sky.get("/staff/notices")
    assert title in page.text
    updated = sky.post(
        f"/staff/notices/{notice_id}/updates",
        data={"csrf_token": csrf(page.text), "body": "A fix is deploying.", "status": "Monitoring"},
    )
    assert updated.status_code == 303, updated.text
    closed = sky.post(
        f"/staff/notices/{notice_id}/resolve",
        data={"csrf_token": csrf(page.text), "body": "Fixed; grades post again."},
    )
    assert closed.status_code == 303, closed.text
    final = public()
    assert final["status"] == "Resolved"
    bodies = [u["body"] for u in final["updates"]]
    assert "A fix is deploying." in bodies
    assert "Fixed; grades post again." in bodies
    pat = staff_client(staff_site, PAT)
    assert pat.get("/staff/notices").status_code == 404


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
async def test_the_status_board_page_passes_axe(staff_site: StaffSite) -> None:
    """Sky's /staff/notices with an open incident, its forms open: no axe violation."""
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = await _browser_staff(browser, staff_site, SKY)
        await page.click("text=Status board")
        await page.click("text=Open an incident")
        await page.fill("#incident-title", f"Slow sign-in {uuid.uuid4().hex[:6]}")
        await page.fill("#incident-body", "Sign-in takes a minute in some districts.")
        await page.click("#incident-form button[type=submit]")
        await page.wait_for_selector("text=Done: Incident opened.")
        await page.click("text=Announce maintenance")
        await _screen(page, "notices")
        await browser.close()


def _outage(site: StaffSite, subject: str) -> int:
    """Zack reports an outage through intake; its number."""
    body = {"case_type": "Report an Outage", "subject": subject,
            "description": "Nobody can open the gradebook: 502 Bad Gateway."}  # fmt: skip
    answer = httpx.post(
        f"{site.intake}/cases", json=body, headers=_bearer(ActorKind.CONTACT, "zack-morris")
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["case_number"])


def _open_incident(sky: httpx.Client, site: StaffSite, title: str) -> str:
    """Sky opens an incident for every district from the workspace; its board id."""
    page = sky.get("/staff/notices")
    opened = sky.post(
        "/staff/notices/incidents",
        data={"csrf_token": csrf(page.text), "title": title, "body": "Gradebook errors.",
              "status": "Investigating", "districts": ""},
    )  # fmt: skip
    assert opened.status_code == 303, opened.text
    notices = httpx.get(f"{site.board}/api/notices", timeout=30).json()["notices"]
    return str(next(n["id"] for n in notices if n["title"] == title))


def _contact_feed(site: StaffSite, number: int) -> str:
    """Zack's read of the case feed, as text."""
    answer = httpx.get(
        f"{site.feed}/cases/{number}", headers=_bearer(ActorKind.CONTACT, "zack-morris")
    )
    return answer.text if answer.status_code == 200 else ""


def test_an_outage_linked_to_an_incident_is_told_of_its_resolution_and_resolved_with_it(
    staff_site: StaffSite,
) -> None:
    """During Sky's open incident, Zack reports an outage: the staff case page suggests the
    incident, Sky links it and the contact's feed says so. Sky resolves the incident on the
    board: routing notes the resolution on the case (the feed shows the board's last word and
    the case's recipients get one email), and the status-board page's "Resolve all linked
    cases" moves the case to Pending Customer Verification through the workflow."""
    tag = uuid.uuid4().hex[:6]
    title, subject = f"Gradebook down {tag}", f"Outage {tag}"
    sky = staff_client(staff_site, SKY)
    notice_id = _open_incident(sky, staff_site, title)
    number = _outage(staff_site, subject)

    def suggested() -> bool:
        page = sky.get(f"/staff/cases/{number}")
        return page.status_code == 200 and f"Link to “{title}”" in page.text

    eventually(suggested, "the incident suggested on the outage case")
    page = sky.get(f"/staff/cases/{number}")
    linked = sky.post(
        f"/staff/cases/{number}/incidents",
        data={"csrf_token": csrf(page.text), "notice_id": notice_id},
    )
    assert linked.status_code == 303, linked.text
    page = sky.get(f"/staff/cases/{number}")
    assert "Suggested link:" not in page.text
    assert f'/notices/{notice_id}">{title}</a>' in page.text
    eventually(lambda: title in _contact_feed(staff_site, number), "the link on Zack's feed")
    notices = sky.get("/staff/notices")
    assert f'href="/staff/cases/{number}"' in notices.text

    fixed = f"Restored at 10:40 ({tag})."
    closed = sky.post(
        f"/staff/notices/{notice_id}/resolve",
        data={"csrf_token": csrf(notices.text), "body": fixed},
    )
    assert closed.status_code == 303, closed.text

    def noted() -> bool:
        routed = httpx.get(
            f"{staff_site.routing}/cases/{number}",
            headers=_bearer(ActorKind.STAFF, "staff-supervisor"),
        ).json()
        return bool(routed.get("incidents")) and routed["incidents"][0]["resolved_at"] is not None

    eventually(noted, "routing noting the incident's resolution on the case", limit=60)
    eventually(lambda: fixed in _contact_feed(staff_site, number), "the resolution on the feed")

    def resolution_mails() -> list[dict[str, Any]]:
        return [m for m in _mails_about(staff_site, subject) if title in m.get("subject", "")]

    eventually(lambda: len(resolution_mails()) >= 1, "the resolution's email", limit=60)
    time.sleep(2)  # a second one, if any, would have come by now
    assert len(resolution_mails()) == 1

    notices = sky.get("/staff/notices")
    resolved = sky.post(
        f"/staff/notices/{notice_id}/resolve-cases",
        data={"csrf_token": csrf(notices.text), "resolution": f"Fixed with the incident {tag}."},
    )
    assert resolved.status_code == 200, resolved.text
    assert f"{number}</a>: resolved: awaiting the contact" in resolved.text
    routed = httpx.get(
        f"{staff_site.routing}/cases/{number}", headers=_bearer(ActorKind.STAFF, "staff-supervisor")
    ).json()
    assert routed["status"] == "Pending Customer Verification"


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
async def test_the_incident_suggestion_and_linked_cases_pass_axe(staff_site: StaffSite) -> None:
    """Sky's case page suggesting the open incident for an outage report, the case linked,
    and the status-board page listing it with "Resolve all linked cases" open: no axe
    violation on either."""
    from playwright.async_api import async_playwright

    tag = uuid.uuid4().hex[:6]
    title = f"Sign-in failing {tag}"
    sky = await asyncio.to_thread(staff_client, staff_site, SKY)
    await asyncio.to_thread(_open_incident, sky, staff_site, title)
    number = await asyncio.to_thread(_outage, staff_site, f"Cannot sign in {tag}")
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = await _browser_staff(browser, staff_site, SKY)
        for _ in range(100):
            await page.goto(f"{staff_site.portal}/staff/cases/{number}")
            if await page.locator(f"text=Link to “{title}”").count():
                break
            await asyncio.sleep(0.3)
        await page.locator("#incidents").scroll_into_view_if_needed()
        await _screen(page, "case-incident-suggested")
        await page.click(f"text=Link to “{title}”")
        await page.wait_for_selector("text=Done: Linked to the incident.")
        await page.goto(f"{staff_site.portal}/staff/notices")
        await page.locator("text=Resolve all linked cases >> nth=0").click()
        await _screen(page, "notices-linked-cases")
        await browser.close()
