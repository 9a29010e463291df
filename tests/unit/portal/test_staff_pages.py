"""The staff pages on fakes: vendor sign-in, 404 for contacts, queues, moves and refusals."""

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from portal.app import create_app
from portal.errors import CaseNotFound
from portal.handlers import CaseSignals
from portal.models import LoginState
from portal.service import CookieCodec, Oidc, Portal
from portal.staff_api import install_staff
from portal.staff_service import StaffApi, StaffCookies, StaffDirectory, StaffPortal

from shared.enums import ContactType, Department
from shared.events import Account, AccountUpserted, ContactUpserted, StaffMember, StaffUpserted
from shared.identity import IdentityKeys
from tests.unit.portal.fakes import CASE, SETTINGS, FakeApi, FakeLinks, FakeMailer, FakeOidc
from tests.unit.portal.fakes import contact as make_contact

BASE = "http://portal.test"
CASE_ID = "0b6f3c1e-0000-4000-8000-000000000001"


class VendorOidc(Oidc):
    """The vendor's provider, vouching for the email the test chose."""

    def __init__(self, email: str) -> None:
        super().__init__(SETTINGS, httpx.AsyncClient())
        self.email = email

    async def begin(self, next_path: str) -> tuple[str, LoginState]:
        login = LoginState(
            state="vs",
            nonce="n",
            code_verifier="v" * 43,
            next_path=next_path,
            expires_at=2_000_000_000,
        )
        return "http://vendor-idp.example/authorize?state=vs", login

    async def email_of(self, code: str, login: LoginState) -> str:
        return self.email


class FakeStaffApi(StaffApi):
    """routing, intake and feed answers for one Campus Support case, recording each write."""

    def __init__(self) -> None:
        keys = IdentityKeys("k" * 40)
        super().__init__(SETTINGS, keys, httpx.AsyncClient())
        self.writes: list[tuple[str, str, Any]] = []
        self.reject: str | None = None
        self.empty = False
        self.queue_params: list[dict[str, str]] = []
        self.queue_total = 1  # what routing counts over every page
        self.case_type = "Ask a Question"
        self.incidents: list[dict[str, Any]] = []  # the case's links, as routing shows them
        self.linked: list[dict[str, Any]] = []  # the cases routing lists for an incident
        self.notices: list[dict[str, Any]] = [
            {"id": "inc-1", "kind": "incident", "title": "Campus login slow", "body": "Looking.",
             "status": "Investigating", "starts_at": "2026-12-03T14:00:00Z",
             "affected_account_ids": [], "updates": []},
            {"id": "mnt-1", "kind": "maintenance", "title": "Database upgrade", "body": "Done.",
             "status": "Completed", "starts_at": "2026-11-01T06:00:00Z",
             "ends_at": "2026-11-01T08:00:00Z", "affected_account_ids": ["bayside"],
             "updates": []},
        ]  # fmt: skip

    async def call(
        self, service: str, method: str, member: StaffMember, path: str, **kw: Any
    ) -> Any:
        if service == "board":
            if method == "GET" and path == "/notices":
                return self.notices
            if method == "GET":
                found = [n for n in self.notices if path == f"/notices/{n['id']}"]
                if not found:
                    raise CaseNotFound(f"the status board holds no notice at {path}")
                return found[0]
            self.writes.append((service, path, kw.get("json")))
            return self.notices[0]
        if method == "POST" and self.empty and path.endswith("/take"):
            raise CaseNotFound("queue campus-support has no unassigned New or Re-Opened case")
        if method in ("POST", "DELETE"):
            self.writes.append((service, path, kw.get("json") or kw.get("data")))
            if service == "intake":
                return {"item_id": "p1"}
            return {"command_id": "c1", "case_id": CASE_ID, "outcome_url": "/commands/c1"}
        if path == "/commands/c1":
            if self.reject:
                return {"outcome": "rejected", "reason": self.reject}
            return {"outcome": "applied"}
        if path.startswith("/incidents/"):
            return self.linked
        if path.startswith("/queues/") and path.endswith("/counts"):
            self.queue_params.append({"counts": "yes", **(kw.get("params") or {})})
            total = self.queue_total
            return {"total": total, "statuses": [{"status": "Assigned", "count": total}]}
        if path.startswith("/queues/"):
            self.queue_params.append(dict(kw.get("params") or {}))
            return [
                {
                    "case_number": 1227963,
                    "case_id": CASE_ID,
                    "account_id": "bayside",
                    "subject": "Snow Day",
                    "case_type": "Ask a Question",
                    "priority": "Medium",
                    "status": "Assigned",
                    "created_at": "2021-09-15T18:37:00Z",
                    "assignee": {"id": "staff-support", "name": "Pat Support"},
                    "last_activity_at": "2021-09-16T10:00:00Z",
                    "last_activity": "post",
                    "last_actor": {"kind": "contact", "id": "zack", "name": "Zack Morris"},
                    "customer_replied": True,
                    "due_in": "overdue by 2 h",
                    "breached": True,
                    "triage": {
                        "disruption": "Severe",
                        "daily_functions_blocked": True,
                        "workaround_exists": False,
                        "several_sites": False,
                        "several_users": True,
                        "defect_qualified": True,
                        "development_issue": "DEV-4821",
                    },
                },
            ]
        if path.startswith("/directory/departments/"):
            return {"staff": [{"staff_id": "staff-lead", "name": "Morgan Lead"}]}
        if service == "feed":
            return {**CASE, "status": "Assigned"}
        return {
            "case_id": CASE_ID,
            "account_id": "bayside",
            "case_type": self.case_type,
            "incidents": self.incidents,
            "department": "Campus Support",
            "status": "Assigned",
            "assignee": {"id": "staff-support", "name": "Pat Support"},
            "customer_replied": True,
            "last_activity_summary": "post by Zack Morris",
        }


def _directory() -> StaffDirectory:
    found = StaffDirectory()
    found.apply(AccountUpserted(account=Account(id="bayside", name="Bayside School (TESTING)")))
    zack = make_contact("zack", "Zack", "Morris", ContactType.AUTHORIZED_SUPPORT, ["bayside"])
    found.apply(ContactUpserted(contact=zack))
    for sid, dept, boss in (
        ("staff-support", "Campus Support", False),
        ("staff-training", "Training", False),
        ("staff-supervisor", "Campus Support", True),
    ):
        member = StaffMember(
            id=sid,
            name=sid,
            email=f"{sid}@vendor.example",
            departments=[Department(dept)],
            supervisor=boss,
        )
        found.apply(StaffUpserted(staff=member))
    return found


@contextlib.asynccontextmanager
async def staff_app(api: FakeStaffApi, vendor: VendorOidc) -> AsyncIterator[httpx.AsyncClient]:
    """The portal with its staff pages on `api`, and a client that keeps cookies."""
    directory = _directory()
    cookies = CookieCodec(SETTINGS.session_secret.get_secret_value())
    fake = Portal(SETTINGS, directory, FakeOidc(), FakeApi(), cookies, FakeLinks(), FakeMailer())
    app = create_app(SETTINGS, fake)
    staff_cookies = StaffCookies(SETTINGS.session_secret.get_secret_value())
    if not hasattr(app.state, "staff"):
        install_staff(app, StaffPortal(SETTINGS, directory, vendor, api, staff_cookies))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield client


@pytest.fixture
async def site() -> AsyncIterator[tuple[httpx.AsyncClient, FakeStaffApi, VendorOidc]]:
    """The portal with its staff pages on fakes, and a client that keeps cookies."""
    api, vendor = FakeStaffApi(), VendorOidc("staff-support@vendor.example")
    async with staff_app(api, vendor) as client:
        yield client, api, vendor


async def staff_sign_in(client: httpx.AsyncClient) -> None:
    """Sign in through the vendor provider's round trip."""
    assert (await client.get("/staff/auth/start")).status_code == 303
    back = await client.get("/staff/auth/callback", params={"code": "c", "state": "vs"})
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/staff"


def csrf(html: str) -> str:
    """The CSRF token of the page's first form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


async def test_a_contact_session_gets_404_on_staff_pages(site: Any) -> None:
    """A signed-in contact never reaches a staff page: it does not exist for them."""
    client, _, _ = site
    await client.get("/auth/start", params={"next": "/cases"})
    await client.get("/auth/callback", params={"code": "c", "state": "st"})
    assert (await client.get("/staff/queues/campus-support")).status_code == 404
    assert (await client.get("/staff/cases/1227963")).status_code == 404


async def test_someone_not_staff_is_refused_at_the_callback(site: Any) -> None:
    """An email the directory has as no staff member gets no staff session."""
    client, _, vendor = site
    vendor.email = "zack@bayside.example"
    await client.get("/staff/auth/start")
    back = await client.get("/staff/auth/callback", params={"code": "c", "state": "vs"})
    assert back.status_code == 403
    assert "no active support staff member" in back.text


async def test_queue_shows_the_work_item_fields(site: Any) -> None:
    """The queue lists number, subject, district, assignee, who acted last and the reply flag."""
    client, _, _ = site
    await staff_sign_in(client)
    page = await client.get("/staff/queues/campus-support")
    assert page.status_code == 200
    for text in (
        "1227963",
        "Snow Day",
        "Bayside School (TESTING)",
        "Pat Support",
        "post by Zack Morris",
        "Customer replied",
        "Assigned: <strong>1</strong>",
    ):
        assert text in page.text
    assert (await client.get("/staff/queues/training")).status_code == 404


async def test_take_next_posts_to_routing(site: Any) -> None:
    """Take next asks routing for the department's next case."""
    client, api, _ = site
    await staff_sign_in(client)
    page = await client.get("/staff/queues/campus-support")
    done = await client.post(
        "/staff/queues/campus-support/take", data={"csrf_token": csrf(page.text)}
    )
    assert done.status_code == 303
    assert ("routing", "/queues/campus-support/take", None) in api.writes


async def test_case_page_offers_only_allowed_moves(site: Any) -> None:
    """From Assigned the page offers Pending Customer Input, never Available in Release."""
    client, _, _ = site
    await staff_sign_in(client)
    page = await client.get("/staff/cases/1227963")
    assert page.status_code == 200
    assert "Move to Pending Customer Input" in page.text
    assert "Move to Available in Release" not in page.text
    assert "Close This Case" not in page.text  # the contact's control


async def test_a_refused_move_is_explained_next_to_its_control(site: Any) -> None:
    """Routing's rejection reason shows inside the form of the move that failed."""
    client, api, _ = site
    await staff_sign_in(client)
    page = await client.get("/staff/cases/1227963")
    api.reject = "the case changed meanwhile: it is Closed"
    answer = await client.post(
        "/staff/cases/1227963/status/pending-customer-input",
        data={"csrf_token": csrf(page.text), "note": "Which school?"},
    )
    assert answer.status_code == 422
    form = answer.text.split('id="move-pending-customer-input"')[1].split("</form>")[0]
    assert "the case changed meanwhile: it is Closed" in form
    assert (
        "routing",
        f"/cases/{CASE_ID}/status",
        {"to_status": "Pending Customer Input", "note": "Which school?"},
    ) in api.writes


async def test_staff_post_goes_to_intake(site: Any) -> None:
    """A staff post is sent to intake's posts route as the staff member."""
    client, api, _ = site
    await staff_sign_in(client)
    page = await client.get("/staff/cases/1227963")
    answer = await client.post(
        "/staff/cases/1227963/posts", data={"csrf_token": csrf(page.text), "body": "Fixed it"}
    )
    assert answer.status_code == 303
    assert (
        "intake",
        "/cases/1227963/posts",
        {"body": "Fixed it", "visibility": "public"},
    ) in api.writes


async def test_forms_without_the_csrf_token_are_refused(site: Any) -> None:
    """A staff form without the session's token changes nothing."""
    client, api, _ = site
    await staff_sign_in(client)
    answer = await client.post("/staff/queues/campus-support/take", data={})
    assert answer.status_code == 403
    assert api.writes == []


async def test_the_queue_part_is_the_live_table(site: Any) -> None:
    """The live part holds the counts and the rows, without the page around them."""
    client, _, _ = site
    await staff_sign_in(client)
    part = await client.get("/staff/queues/campus-support/part")
    assert part.status_code == 200
    assert part.text.startswith('<div id="queue-part">')
    assert "Snow Day" in part.text
    assert "<html" not in part.text


def _list_changes_after(api: FakeStaffApi, looks: int) -> list[str]:
    """Make routing list the queue differently after `looks` lists (the counts stay the
    same: the rows alone change); the list paths asked, as they are asked."""
    original = api.call
    lists: list[str] = []

    async def changed(service: str, method: str, member: StaffMember, path: str, **kw: Any) -> Any:
        items = await original(service, method, member, path, **kw)
        if path.endswith("/counts"):
            return items
        lists.append(path)
        return items if len(lists) <= looks else [{**items[0], "status": "Pending Customer Input"}]

    api.call = changed  # type: ignore[method-assign]
    return lists


async def test_queue_changes_when_routing_lists_it_differently() -> None:
    """The live stream yields a new version once routing's list has changed, not before."""
    api = FakeStaffApi()
    settings = SETTINGS.model_copy(update={"live_poll_s": 0.01, "live_max_s": 5.0})
    staff = StaffPortal(settings, _directory(), VendorOidc("x"), api, StaffCookies("s" * 40))
    member = staff.directory.staff["staff-support"]
    stream = staff.queue_changes(member, "campus-support")
    calls = _list_changes_after(api, 2)  # the first look and one poll see the same list
    version = await anext(stream)
    await stream.aclose()
    assert len(version) == 16
    assert len(calls) == 3


async def test_a_case_event_wakes_the_queue_stream_before_its_poll() -> None:
    """With a poll every minute, a case event (routing announcing a case it queued) makes
    the stream look again at once and yield the new version; a quiet queue is not asked."""
    api = FakeStaffApi()
    settings = SETTINGS.model_copy(
        update={"live_poll_s": 60.0, "live_gap_s": 0.01, "live_max_s": 30.0}
    )
    signals = CaseSignals()
    staff = StaffPortal(
        settings, _directory(), VendorOidc("x"), api, StaffCookies("s" * 40), signals
    )
    member = staff.directory.staff["staff-support"]
    stream = staff.queue_changes(member, "campus-support")
    lists = _list_changes_after(api, 1)
    waiting = asyncio.create_task(anext(stream))
    await asyncio.sleep(0.2)
    assert (lists, waiting.done()) == (["/queues/campus-support"], False)  # no poll yet
    signals.signal("any-case")
    version = await asyncio.wait_for(waiting, 5)
    await stream.aclose()
    assert len(version) == 16
    assert len(lists) == 2


async def test_the_part_after_a_change_is_the_page_the_live_stream_fetched() -> None:
    """The part htmx asks for on `changed` reuses the live stream's fetch (same member and
    query) instead of asking routing again; the full page and an old fetch ask routing."""
    api = FakeStaffApi()
    settings = SETTINGS.model_copy(update={"live_poll_s": 0.05, "live_max_s": 0.2})
    staff = StaffPortal(settings, _directory(), VendorOidc("x"), api, StaffCookies("s" * 40))
    member = staff.directory.staff["staff-support"]
    query = {"sort": "number", "order": "desc"}
    stream = staff.queue_changes(member, "campus-support", query)
    with pytest.raises(StopAsyncIteration):  # nothing changes until the stream ends
        await anext(stream)
    asked = len(api.queue_params)
    shown = await staff.queue(member, "campus-support", query, fresh_s=60)
    assert shown["items"][0]["subject"] == "Snow Day"
    assert len(api.queue_params) == asked
    await staff.queue(member, "campus-support", {"sort": "subject"}, fresh_s=60)
    await staff.queue(member, "campus-support", query)
    assert len(api.queue_params) == asked + 4  # a list and a count each


async def test_a_supervisor_has_every_departments_queue(site: Any) -> None:
    """Sky (supervisor, Campus Support) opens the Training queue; Pat does not."""
    client, _, vendor = site
    vendor.email = "staff-supervisor@vendor.example"
    await staff_sign_in(client)
    assert (await client.get("/staff/queues/training")).status_code == 200
    page = await client.get("/staff/queues/campus-support")
    assert 'href="/staff/queues/account-management"' in page.text


async def test_a_transfer_without_a_reason_is_refused_by_its_control(site: Any) -> None:
    """Transfer with a blank reason is refused on the page; routing is not asked."""
    client, api, _ = site
    await staff_sign_in(client)
    page = await client.get("/staff/cases/1227963")
    answer = await client.post(
        "/staff/cases/1227963/transfer",
        data={"csrf_token": csrf(page.text), "department": "Training", "reason": " "},
    )
    assert answer.status_code == 422
    assert 'id="transfer-error"' in answer.text
    assert api.writes == []


async def test_assign_to_a_colleague_names_them_to_routing(site: Any) -> None:
    """Assign sends the chosen colleague's staff id."""
    client, api, _ = site
    await staff_sign_in(client)
    page = await client.get("/staff/cases/1227963")
    answer = await client.post(
        "/staff/cases/1227963/assign",
        data={"csrf_token": csrf(page.text), "assignee_id": "staff-lead"},
    )
    assert answer.status_code == 303
    assert ("routing", f"/cases/{CASE_ID}/assign", {"assignee_id": "staff-lead"}) in api.writes


async def test_sign_in_returns_only_to_a_staff_page(site: Any) -> None:
    """A `next` off the staff pages, or off the site, comes back to /staff."""
    client, _, _ = site
    assert (await client.get("/staff/queues/campus-support")).headers["location"] == (
        "/staff/signin?next=%2Fstaff%2Fqueues%2Fcampus-support"
    )
    await client.get("/staff/auth/start", params={"next": "//evil.example/staff"})
    back = await client.get("/staff/auth/callback", params={"code": "c", "state": "vs"})
    assert back.headers["location"] == "/staff"


async def test_only_the_portals_own_confirmations_are_shown(site: Any) -> None:
    """A made-up `done` text in the URL is not echoed on the page."""
    client, _, _ = site
    await staff_sign_in(client)
    page = await client.get("/staff/cases/1227963", params={"done": "Call 555-0199 now"})
    assert "555-0199" not in page.text
    page = await client.get("/staff/cases/1227963", params={"done": "Scheduled"})
    assert "Done: Scheduled." in page.text


async def test_the_live_part_is_the_feed_and_the_facts(site: Any) -> None:
    """The case page's live part holds the feed items and the facts swapped out of band."""
    client, _, _ = site
    await staff_sign_in(client)
    part = await client.get("/staff/cases/1227963/live-part")
    assert part.status_code == 200
    assert 'id="feed-items"' in part.text
    assert "hx-swap-oob" in part.text
    assert "<html" not in part.text


async def test_take_next_on_an_empty_queue_says_so_on_the_queue(site: Any) -> None:
    """Nothing to take: the queue page says routing's reason, not an error page."""
    client, api, _ = site
    await staff_sign_in(client)
    page = await client.get("/staff/queues/campus-support")
    api.empty = True
    answer = await client.post(
        "/staff/queues/campus-support/take", data={"csrf_token": csrf(page.text)}
    )
    assert answer.status_code == 409
    assert "has no unassigned New or Re-Opened case" in answer.text
    assert "Take next" in answer.text
    shown = await client.get("/staff/queues/campus-support", params={"error": "Call 555-0199"})
    assert "555-0199" not in shown.text


async def test_the_impact_assessment_goes_to_routing_with_each_answer(site: Any) -> None:
    """The triage form sends the disruption and each yes/no question (an unticked box is
    no); a ticked defect without its issue number is refused on the page, routing not asked."""
    client, api, _ = site
    await staff_sign_in(client)
    page = await client.get("/staff/cases/1227963")
    assert "Not assessed yet" in page.text
    assert "Level of disruption to customer workflow" in page.text
    token = csrf(page.text)
    answer = await client.post(
        "/staff/cases/1227963/triage",
        data={"csrf_token": token, "disruption": "Significant", "blocked": "yes", "users": "yes"},
    )
    assert answer.status_code == 303
    sent = {
        "disruption": "Significant",
        "daily_functions_blocked": True,
        "workaround_exists": False,
        "several_sites": False,
        "several_users": True,
    }
    assert ("routing", f"/cases/{CASE_ID}/triage", sent) in api.writes
    api.writes.clear()
    refused = await client.post(
        "/staff/cases/1227963/triage",
        data={"csrf_token": token, "disruption": "Moderate", "defect": "yes"},
    )
    assert refused.status_code == 422
    form = refused.text.split('id="triage-form"')[1].split("</form>")[0]
    assert "Enter the development issue number of the qualified defect." in form
    assert api.writes == []


async def test_a_priority_change_needs_a_reason_and_offers_critical_only_on_outages(
    site: Any,
) -> None:
    """An Ask a Question case offers High, Medium and Low; the change goes with its reason;
    Critical posted anyway, or no reason, is refused on the page."""
    client, api, _ = site
    await staff_sign_in(client)
    page = await client.get("/staff/cases/1227963")
    form = page.text.split('id="priority-form"')[1].split("</form>")[0]
    assert "<option>Critical</option>" not in form
    assert "High</option>" in form
    token = csrf(page.text)
    for data in ({"priority": "Critical", "reason": "urgent"}, {"priority": "High", "reason": " "}):
        refused = await client.post(
            "/staff/cases/1227963/priority", data={"csrf_token": token, **data}
        )
        assert refused.status_code == 422
        assert 'id="priority-error"' in refused.text
    assert api.writes == []
    done = await client.post(
        "/staff/cases/1227963/priority",
        data={"csrf_token": token, "priority": "High", "reason": "Every teacher is blocked."},
    )
    assert done.status_code == 303
    body = {"priority": "High", "reason": "Every teacher is blocked."}
    assert ("routing", f"/cases/{CASE_ID}/priority", body) in api.writes


async def test_the_queue_filters_by_impact_through_routing(site: Any) -> None:
    """ "Blocked, no workaround" asks routing for blocked=true&workaround=false."""
    client, api, _ = site
    await staff_sign_in(client)
    page = await client.get("/staff/queues/campus-support", params={"impact": "blocked"})
    assert page.status_code == 200
    row = page.text.split("<tbody>")[1]
    assert "Blocked, no workaround" in row
    assert "Defect DEV-4821" in row
    assert "SLA breached" in row
    assert "overdue by 2 h" in row
    assert api.queue_params[-1]["blocked"] == "true"
    assert api.queue_params[-1]["workaround"] == "false"


async def test_the_queue_asks_routing_to_filter_sort_page_and_count(site: Any) -> None:
    """Case type, subject words and "customer replied" go to routing with the sort and the
    page; the page shows routing's total and per-status counts, and Page of Pages."""
    client, api, _ = site
    api.queue_total = 451
    await staff_sign_in(client)
    query = {"case_type": "Ask a Question", "subject": "snow", "replied": "true",
             "sort": "number", "order": "desc", "page": "2", "page_size": "200"}  # fmt: skip
    page = await client.get("/staff/queues/campus-support", params=query)
    assert page.status_code == 200
    listed, counted = api.queue_params[-2:]
    filters = {"case_type": "Ask a Question", "subject": "snow", "customer_replied": "true"}
    assert listed == {**filters, "sort": "number", "order": "desc", "limit": "200", "offset": "200"}
    assert counted == {"counts": "yes", **filters}
    assert "451 open cases match these filters; page 2 of 3" in page.text
    assert "Assigned: <strong>451</strong>" in page.text
    assert "<option selected>2</option>" in page.text
    assert "<span>of 3</span>" in page.text


async def test_a_bad_page_size_is_a_400_that_says_the_allowed_sizes(site: Any) -> None:
    """page_size=7 is refused on the page (and its live stream) without asking routing."""
    client, api, _ = site
    await staff_sign_in(client)
    before = len(api.queue_params)
    page = await client.get("/staff/queues/campus-support", params={"page_size": "7"})
    assert page.status_code == 400
    assert "Page Size must be one of 10, 20, 50, 100, 200." in page.text
    live = await client.get("/staff/queues/campus-support/live", params={"page": "x"})
    assert live.status_code == 400
    assert len(api.queue_params) == before


async def test_the_status_board_page_is_for_supervisors_and_hosting_only(site: Any) -> None:
    """Pat (Campus Support) has no Status board link and gets a 404 there."""
    client, _, _ = site
    await staff_sign_in(client)
    assert "/staff/notices" not in (await client.get("/staff/queues/campus-support")).text
    assert (await client.get("/staff/notices")).status_code == 404


async def test_a_supervisor_opens_updates_and_resolves_notices(site: Any) -> None:
    """The page lists open notices first; an incident, an update with its status, a
    resolution and maintenance in the staff's zone go to the board's admin API."""
    client, api, vendor = site
    vendor.email = "staff-supervisor@vendor.example"
    await staff_sign_in(client)
    page = await client.get("/staff/notices")
    assert page.status_code == 200
    assert page.text.index("Campus login slow") < page.text.index("Database upgrade")
    assert 'action="/staff/notices/mnt-1/resolve"' not in page.text  # completed: no controls
    token = csrf(page.text)
    incident = {"title": "Gradebook errors", "body": "Teachers see errors.", "status": "Identified",
                "districts": "bayside, ridgemont"}  # fmt: skip
    assert (
        await client.post("/staff/notices/incidents", data={"csrf_token": token, **incident})
    ).status_code == 303
    update = {"csrf_token": token, "body": "A fix is deploying.", "status": "Monitoring"}
    assert (await client.post("/staff/notices/inc-1/updates", data=update)).status_code == 303
    closing = {"csrf_token": token, "body": "Fixed."}
    assert (await client.post("/staff/notices/inc-1/resolve", data=closing)).status_code == 303
    window = {"csrf_token": token, "title": "Upgrade", "body": "Read-only for an hour.",
              "starts_at": "2026-12-12T22:00", "ends_at": "2026-12-12T23:00"}  # fmt: skip
    assert (await client.post("/staff/notices/maintenance", data=window)).status_code == 303
    assert api.writes == [
        ("board", "/incidents", {"title": "Gradebook errors", "body": "Teachers see errors.",
                                 "status": "Identified",
                                 "affected_account_ids": ["bayside", "ridgemont"]}),
        ("board", "/notices/inc-1/updates",
         {"body": "A fix is deploying.", "status": "Monitoring"}),
        ("board", "/notices/inc-1/resolve", {"body": "Fixed."}),
        ("board", "/maintenance", {"title": "Upgrade", "body": "Read-only for an hour.",
                                   "starts_at": "2026-12-12T22:00:00-06:00",
                                   "ends_at": "2026-12-12T23:00:00-06:00",
                                   "affected_account_ids": []}),
    ]  # fmt: skip


async def test_a_notice_form_missing_a_field_says_so_and_sends_nothing(site: Any) -> None:
    """Maintenance ending before it starts, an untitled incident, an unknown notice."""
    client, api, vendor = site
    vendor.email = "staff-supervisor@vendor.example"
    await staff_sign_in(client)
    token = csrf((await client.get("/staff/notices")).text)
    backwards = {"csrf_token": token, "title": "Upgrade", "body": "x",
                 "starts_at": "2026-12-12T23:00", "ends_at": "2026-12-12T22:00"}  # fmt: skip
    answer = await client.post("/staff/notices/maintenance", data=backwards)
    assert answer.status_code == 422
    assert "The maintenance must end after it starts." in answer.text
    untitled = {"csrf_token": token, "title": " ", "body": "x"}
    answer = await client.post("/staff/notices/incidents", data=untitled)
    assert (answer.status_code, "Enter a title." in answer.text) == (422, True)
    unknown = await client.post(
        "/staff/notices/nope/updates", data={"csrf_token": token, "body": "x"}
    )
    assert unknown.status_code == 404
    assert api.writes == []


async def test_an_outage_report_during_an_open_incident_is_suggested_for_linking(
    site: Any,
) -> None:
    """A Report an Outage case while "Campus login slow" is open (every district): the page
    suggests the link, and the button links it through routing with the board's title."""
    client, api, _ = site
    api.case_type = "Report an Outage"
    await staff_sign_in(client)
    page = await client.get("/staff/cases/1227963")
    assert "Suggested link:" in page.text
    assert "Link to “Campus login slow”" in page.text
    form = {"csrf_token": csrf(page.text), "notice_id": "inc-1"}
    linked = await client.post("/staff/cases/1227963/incidents", data=form)
    assert linked.status_code == 303
    assert "done=Linked+to+the+incident" in linked.headers["location"]
    assert api.writes == [
        ("routing", f"/cases/{CASE_ID}/incidents",
         {"notice_id": "inc-1", "title": "Campus login slow"}),
    ]  # fmt: skip


async def test_no_suggestion_for_other_case_types_or_other_districts_incidents(
    site: Any,
) -> None:
    """An Ask a Question case may be linked but is not suggested; an incident of another
    district is neither suggested nor offered, and linking it is refused beside the control."""
    client, api, _ = site
    await staff_sign_in(client)
    page = await client.get("/staff/cases/1227963")
    assert "Suggested link:" not in page.text
    assert '<option value="inc-1">Campus login slow (Investigating)</option>' in page.text
    api.case_type = "Report an Outage"
    api.notices[0]["affected_account_ids"] = ["ridgemont"]
    page = await client.get("/staff/cases/1227963")
    assert "Suggested link:" not in page.text
    assert "No other open incident concerns this district." in page.text
    form = {"csrf_token": csrf(page.text), "notice_id": "inc-1"}
    refused = await client.post("/staff/cases/1227963/incidents", data=form)
    assert refused.status_code == 422
    assert "not open for this case&#39;s district" in refused.text
    assert 'id="link-error"' in refused.text
    assert api.writes == []


async def test_a_linked_incident_is_shown_and_can_be_unlinked(site: Any) -> None:
    """The case page lists its link with the board's page and an Unlink button; the
    suggestion is gone once linked."""
    client, api, _ = site
    api.case_type = "Report an Outage"
    api.incidents = [
        {"notice_id": "inc-1", "title": "Campus login slow",
         "linked_at": "2026-12-03T14:05:00Z", "resolved_at": None},
    ]  # fmt: skip
    await staff_sign_in(client)
    page = await client.get("/staff/cases/1227963")
    assert "Suggested link:" not in page.text
    assert 'href="http://127.0.0.1:8004/notices/inc-1">Campus login slow</a>' in page.text
    form = {"csrf_token": csrf(page.text)}
    unlinked = await client.post("/staff/cases/1227963/incidents/inc-1/unlink", data=form)
    assert unlinked.status_code == 303
    assert api.writes == [("routing", f"/cases/{CASE_ID}/incidents/inc-1", None)]


async def test_an_outage_linked_to_one_open_incident_is_not_suggested_another(
    site: Any,
) -> None:
    """Linked to "Campus login slow", the case is not suggested the newer "Gradebook down"
    opened since: that one stays in the link list, offered but not pushed."""
    client, api, _ = site
    api.case_type = "Report an Outage"
    api.notices.append(
        {"id": "inc-2", "kind": "incident", "title": "Gradebook down", "body": "Looking.",
         "status": "Investigating", "starts_at": "2026-12-03T15:00:00Z",
         "affected_account_ids": [], "updates": []},
    )  # fmt: skip
    await staff_sign_in(client)
    page = await client.get("/staff/cases/1227963")
    assert "Link to “Gradebook down”" in page.text  # the newest, before any link
    api.incidents = [
        {"notice_id": "inc-1", "title": "Campus login slow",
         "linked_at": "2026-12-03T14:05:00Z", "resolved_at": None},
    ]  # fmt: skip
    page = await client.get("/staff/cases/1227963")
    assert "Suggested link:" not in page.text
    assert '<option value="inc-2">Gradebook down (Investigating)</option>' in page.text


async def test_resolve_all_linked_cases_moves_each_through_the_workflow(site: Any) -> None:
    """Three linked cases: a New one is assigned to the supervisor, then moved to Pending
    Customer Verification with the resolution; an Assigned one is moved; one already awaiting
    verification is left. The page says what happened to each."""
    client, api, vendor = site
    vendor.email = "staff-supervisor@vendor.example"
    api.linked = [
        {"case_number": 1000001, "case_id": "c-new", "subject": "Down", "status": "New"},
        {"case_number": 1000002, "case_id": "c-asg", "subject": "Down too", "status": "Assigned"},
        {"case_number": 1000003, "case_id": "c-pcv", "subject": "Also",
         "status": "Pending Customer Verification"},
    ]  # fmt: skip
    await staff_sign_in(client)
    page = await client.get("/staff/notices")
    assert "Linked cases (3)" in page.text
    assert 'href="/staff/cases/1000002"' in page.text
    blank = {"csrf_token": csrf(page.text), "resolution": "  "}
    refused = await client.post("/staff/notices/inc-1/resolve-cases", data=blank)
    assert refused.status_code == 422
    assert "Write the resolution" in refused.text
    assert api.writes == []
    fixed = {"csrf_token": csrf(page.text), "resolution": "Sign-in restored at 10:40."}
    done = await client.post("/staff/notices/inc-1/resolve-cases", data=fixed)
    assert done.status_code == 200
    resolved = {"to_status": "Pending Customer Verification", "note": "Sign-in restored at 10:40."}
    assert api.writes == [
        ("routing", "/cases/c-new/assign", {"assignee_id": "staff-supervisor"}),
        ("routing", "/cases/c-new/status", resolved),
        ("routing", "/cases/c-asg/status", resolved),
    ]
    assert "1000003</a>: left as it is: Pending Customer Verification" in done.text
    assert "1000002</a>: resolved: awaiting the contact&#39;s verification" in done.text
