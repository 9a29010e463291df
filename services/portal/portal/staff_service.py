"""The staff workspace's use cases: vendor sign-in, staff sessions, routing and intake as staff."""

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import IO, Any
from urllib.parse import quote

import httpx
import jwt
from pydantic import BaseModel, ConfigDict

from portal import staff_logic
from portal.errors import CaseNotFound, NotSignedIn, Refused, SignInFailed, Unavailable
from portal.handlers import CaseSignals, Directory
from portal.models import LoginState
from portal.service import Oidc, _answer_of, stream_download
from portal.settings import Settings
from shared.enums import ActorKind, Department, Status
from shared.events import AnyDirectoryEvent, StaffMember, StaffUpserted
from shared.identity import IdentityKeys

log = logging.getLogger("portal.staff")

STAFF_AUDIENCE = "portal-staff-session"
POLL_SECONDS = 0.1
Json = dict[str, Any]


class VendorOidcSettings(Settings):
    """The portal's settings pointed at the vendor's provider, with the staff callback."""

    @property
    def redirect_uri(self) -> str:
        """Where the vendor's provider sends the browser back."""
        return self.base_url.rstrip("/") + "/staff/auth/callback"


def vendor_oidc(settings: Settings, http: httpx.AsyncClient) -> Oidc:
    """The OIDC client (PKCE, verified ID token) of the vendor's provider."""
    values = settings.model_dump()
    values.update(
        oidc_issuer=settings.staff_oidc_issuer,
        oidc_client_id=settings.staff_oidc_client_id,
        oidc_client_secret=settings.staff_oidc_client_secret,
    )
    return Oidc(VendorOidcSettings.model_validate(values), http)


class StaffDirectory(Directory):
    """The directory view with staff members too (by id and by email)."""

    def __init__(self) -> None:
        super().__init__()
        self.staff: dict[str, StaffMember] = {}
        self._staff_by_email: dict[str, str] = {}

    def apply(self, event: AnyDirectoryEvent) -> None:
        """Keep the latest record of each account, contact and staff member."""
        if isinstance(event, StaffUpserted):
            self.staff[event.staff.id] = event.staff
            self._staff_by_email[str(event.staff.email).lower()] = event.staff.id
            return
        super().apply(event)

    def staff_by_email(self, email: str) -> StaffMember | None:
        """The active staff member with this email (case-insensitive), if any."""
        member = self.staff.get(self._staff_by_email.get(email.strip().lower(), ""))
        return member if member is not None and member.active else None

    def active_staff(self, staff_id: str) -> StaffMember | None:
        """The staff member if still active."""
        member = self.staff.get(staff_id)
        return member if member is not None and member.active else None


class StaffSession(BaseModel):
    """What the staff session cookie carries: who, the CSRF token, expiry."""

    model_config = ConfigDict(frozen=True)

    sid: str
    staff_id: str
    csrf: str
    expires_at: int


class StaffCookies:
    """Signs and reads the staff session cookie (its own audience: never a contact's)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def encode(self, session: StaffSession) -> str:
        """The session as a cookie value."""
        claims = {**session.model_dump(), "aud": STAFF_AUDIENCE, "exp": session.expires_at}
        return jwt.encode(claims, self._secret, "HS256")

    def decode(self, raw: str | None) -> StaffSession | None:
        """The session of a cookie, if signed by us for staff and not expired."""
        if not raw:
            return None
        try:
            claims = jwt.decode(raw, self._secret, algorithms=["HS256"], audience=STAFF_AUDIENCE)
        except jwt.InvalidTokenError:
            return None
        return StaffSession.model_validate(claims)


class StaffApi:
    """routing, intake and feed as a staff member (a fresh staff identity token per call),
    and the status board's admin API (`board`, with its admin token)."""

    def __init__(self, settings: Settings, keys: IdentityKeys, http: httpx.AsyncClient) -> None:
        self.urls = {
            "routing": settings.routing_url.rstrip("/"),
            "intake": settings.intake_url.rstrip("/"),
            "feed": settings.feed_url.rstrip("/"),
            "board": settings.status_board_admin_url.rstrip("/") + "/admin",
        }
        self.keys, self.http = keys, http
        self.board_token = settings.status_board_admin_token

    async def call(
        self, service: str, method: str, member: StaffMember, path: str, **kwargs: Any
    ) -> Any:
        """Call a route of `service` as the member; errors as the portal's errors."""
        if service == "board":
            token = self.board_token.get_secret_value()
        else:
            token = self.keys.issue(ActorKind.STAFF, member.id)
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        url = self.urls[service] + path
        try:
            answer = await self.http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise Unavailable(f"{service} did not answer") from exc
        return _answer_of(answer)

    async def download(
        self, member: StaffMember, path: str
    ) -> tuple[dict[str, str], AsyncIterator[bytes]]:
        """An attachment's headers and bytes from intake, as the staff member."""
        token = self.keys.issue(ActorKind.STAFF, member.id)
        url = self.urls["intake"] + path
        return await stream_download(self.http, url, {"Authorization": f"Bearer {token}"})


MAX_POLLED = 256  # live queue pages kept for the part fetch that follows their `changed`


def _poll_key(member: StaffMember, slug: str, query: Mapping[str, str]) -> tuple[str, str, str]:
    return member.id, slug, json.dumps(sorted(query.items()))


class StaffPortal:
    """Everything the staff pages do."""

    def __init__(
        self,
        settings: Settings,
        directory: StaffDirectory,
        oidc: Oidc,
        api: StaffApi,
        cookies: StaffCookies,
        signals: CaseSignals | None = None,
    ) -> None:
        self.settings, self.directory, self.oidc = settings, directory, oidc
        self.api, self.cookies = api, cookies
        self.signals = signals or CaseSignals()
        # The queue pages the live streams fetched last (when, what), by member, queue and query.
        self._polled: dict[tuple[str, str, str], tuple[float, Json]] = {}

    async def sign_in(self, code: str, state: str, login: LoginState | None) -> StaffSession:
        """The session of a person the vendor's provider vouched for, if active staff."""
        if login is None or not secrets.compare_digest(login.state, state):
            raise SignInFailed("this sign-in expired or was started elsewhere; sign in again")
        email = await self.oidc.email_of(code, login)
        member = self.directory.staff_by_email(email)
        if member is None:
            raise SignInFailed(f"{email} is no active support staff member")
        log.info("staff signed in %s", member.id)
        return StaffSession(
            sid=secrets.token_urlsafe(16),
            staff_id=member.id,
            csrf=secrets.token_urlsafe(32),
            expires_at=int(time.time()) + self.settings.session_max_age_s,
        )

    def member(self, session: StaffSession | None) -> StaffMember:
        """The signed-in staff member as the directory has them now."""
        member = self.directory.active_staff(session.staff_id) if session else None
        if member is None:
            raise NotSignedIn("sign in with your vendor account")
        return member

    def department(self, member: StaffMember, slug: str) -> Department:
        """A department the member works, by slug; 404 for any other."""
        for department in staff_logic.departments_of(member):
            if department.slug == slug:
                return department
        raise CaseNotFound(f"there is no queue {slug!r} among your departments")

    def district_name(self, account_id: str) -> str:
        """A district's name from the directory (its id when unknown)."""
        account = self.directory.accounts.get(account_id)
        return account.name if account else account_id

    # --- reads ------------------------------------------------------------------------

    async def queue(
        self, member: StaffMember, slug: str, query: Mapping[str, str], fresh_s: float = 0.0
    ) -> Json:
        """One page of the department's queue, filtered and sorted by routing as the query
        asks, with the total and the counts per status over every page; the one a live stream
        fetched for the same member and query at most `fresh_s` ago, if any (the part a
        `changed` event asks for is the page that event was about)."""
        polled = self._polled.get(_poll_key(member, slug, query))
        if polled is not None and time.monotonic() - polled[0] <= fresh_s:
            return polled[1]
        page = staff_logic.queue_page(query)
        path = f"/queues/{slug}"
        items, counts = await asyncio.gather(
            self.api.call(
                "routing", "GET", member, path, params=staff_logic.routing_params(query, page)
            ),
            self.api.call(
                "routing", "GET", member, f"{path}/counts", params=staff_logic.filter_params(query)
            ),
        )
        for item in items:
            item["district"] = self.district_name(str(item["account_id"]))
        total = int(counts["total"])
        return {
            "items": items,
            "total": total,
            "counts": [(c["status"], int(c["count"])) for c in counts["statuses"]],
            "page": page.number,
            "page_size": page.size,
            "pages": staff_logic.page_count(total, page.size),
        }

    async def queue_changes(
        self, member: StaffMember, slug: str, query: Mapping[str, str] | None = None
    ) -> AsyncGenerator[str, None]:
        """Yield the queue's new version each time routing lists the page (or counts the
        queue) differently.

        Any case event (case.events, via `signals`: routing announces each case it routes,
        assigns or moves once it has stored it) wakes the stream to look again, at most once
        every `live_gap_s`; without events it looks every `live_poll_s`, so it works while
        Kafka is away.
        """
        seen = await self._queue_version(member, slug, query or {})
        deadline = time.monotonic() + self.settings.live_max_s
        with self.signals.watch_any() as woken:
            while time.monotonic() < deadline:
                await asyncio.sleep(self.settings.live_gap_s)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), self.settings.live_poll_s)
                woken.clear()
                try:
                    now = await self._queue_version(member, slug, query or {})
                except Unavailable:
                    continue  # routing is away for a moment: the page keeps what it shows
                if now != seen:
                    seen = now
                    yield now

    async def case_changes(self, member: StaffMember, ref: str) -> AsyncGenerator[str, None]:
        """Yield the case's new version each time its status, owner or feed changes."""
        seen = await self._case_version(member, ref)
        deadline = time.monotonic() + self.settings.live_max_s
        while time.monotonic() < deadline:
            await asyncio.sleep(self.settings.live_poll_s)
            try:
                now = await self._case_version(member, ref)
            except Unavailable:
                continue
            if now != seen:
                seen = now
                yield now

    async def _case_version(self, member: StaffMember, ref: str) -> str:
        case: Json = await self.api.call(
            "feed", "GET", member, f"/cases/{ref}", params={"feed_page_size": "1"}
        )
        feed = case.get("feed") or {}
        items = feed.get("items") or [{}]
        return f"{case.get('last_modified')}|{feed.get('total')}|{items[0].get('item_id')}"

    async def _queue_version(self, member: StaffMember, slug: str, query: Mapping[str, str]) -> str:
        shown = await self.queue(member, slug, query)
        key = _poll_key(member, slug, query)
        self._polled.pop(key, None)
        self._polled[key] = (time.monotonic(), shown)
        while len(self._polled) > MAX_POLLED:
            self._polled.pop(next(iter(self._polled)))
        body = json.dumps([shown["items"], shown["counts"]], sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    async def colleagues(self, member: StaffMember, slug: str) -> list[Json]:
        """The department's staff (intake's directory), to assign to."""
        found: Json = await self.api.call(
            "intake", "GET", member, f"/directory/departments/{slug}/staff"
        )
        return list(found.get("staff", []))

    async def case(self, member: StaffMember, ref: str) -> tuple[Json, Json]:
        """The case as the contact sees it (feed) and routing's view (department, assignee)."""
        shown: Json = await self.api.call(
            "feed", "GET", member, f"/cases/{ref}", params={"feed_page_size": "50"}
        )
        routed: Json = await self.api.call("routing", "GET", member, f"/cases/{shown['case_id']}")
        account = str(shown.get("account_id"))
        zone = self.directory.accounts.get(account)
        shown["time_zone"] = zone.time_zone if zone and zone.time_zone else "America/Chicago"
        return shown, routed

    # --- writes -----------------------------------------------------------------------

    async def take_next(self, member: StaffMember, slug: str) -> Json:
        """Take the queue's next New or Re-Opened case."""
        accepted: Json = await self.api.call("routing", "POST", member, f"/queues/{slug}/take")
        return await self._outcome(member, accepted)

    async def assign(self, member: StaffMember, case_id: str, assignee_id: str | None) -> Json:
        """Assign to a colleague, to oneself, or (none) by the department's policy."""
        body = {"assignee_id": assignee_id or None}
        path = f"/cases/{case_id}/assign"
        accepted: Json = await self.api.call("routing", "POST", member, path, json=body)
        return await self._outcome(member, accepted)

    async def transfer(
        self, member: StaffMember, case_id: str, department: str, reason: str
    ) -> Json:
        """Move the case to another department's queue with a reason."""
        body = {"department": department, "reason": reason}
        path = f"/cases/{case_id}/transfer"
        accepted: Json = await self.api.call("routing", "POST", member, path, json=body)
        return await self._outcome(member, accepted)

    async def record_triage(self, member: StaffMember, case_id: str, body: Json) -> Json:
        """Record the case's impact assessment."""
        path = f"/cases/{case_id}/triage"
        accepted: Json = await self.api.call("routing", "POST", member, path, json=body)
        return await self._outcome(member, accepted)

    async def change_priority(self, member: StaffMember, case_id: str, body: Json) -> Json:
        """Set the case's priority with the reason the contact sees."""
        path = f"/cases/{case_id}/priority"
        accepted: Json = await self.api.call("routing", "POST", member, path, json=body)
        return await self._outcome(member, accepted)

    async def sla_report(self, member: StaffMember, weeks: int) -> Json:
        """Routing's SLA report: the member's departments (all for supervisors)."""
        report: Json = await self.api.call(
            "routing", "GET", member, "/reports/sla", params={"weeks": str(weeks)}
        )
        return report

    async def notices(self, member: StaffMember) -> list[Json]:
        """Every notice the status board holds, open ones first, newest first within each."""
        found: list[Json] = await self.api.call("board", "GET", member, "/notices")
        return staff_logic.notices_in_order(found)

    async def notice(self, member: StaffMember, notice_id: str) -> Json:
        """One notice of the status board (CaseNotFound when it holds none by that id)."""
        path = f"/notices/{quote(notice_id, safe='')}"
        found: Json = await self.api.call("board", "GET", member, path)
        return found

    async def notice_write(self, member: StaffMember, path: str, body: Json) -> Json:
        """Open, announce, update or resolve a notice on the status board (works while Kafka is
        down: the board keeps its own outbox)."""
        log.info("notice change %s by %s", path, member.id)
        written: Json = await self.api.call("board", "POST", member, path, json=body)
        return written

    async def open_incidents(self, member: StaffMember, account_id: str) -> list[Json] | None:
        """The board's open incidents concerning a district; None while the board is away
        (the case page then says so instead of failing)."""
        try:
            found: list[Json] = await self.api.call("board", "GET", member, "/notices")
        except Unavailable:
            return None
        return staff_logic.open_incidents(found, account_id)

    async def link_incident(
        self, member: StaffMember, case_id: str, notice_id: str, account_id: str
    ) -> Json:
        """Link the case to one of its district's open incidents (as the board has it now)."""
        open_ones = await self.open_incidents(member, account_id)
        if open_ones is None:
            raise Unavailable("the status board did not answer; try again in a moment")
        notice = next((n for n in open_ones if n.get("id") == notice_id), None)
        if notice is None:
            raise Refused(
                "That incident is not open for this case's district any more; pick an open "
                "one, or open it on the status board first.",
                [],
                409,
            )
        body = {"notice_id": notice_id, "title": notice["title"]}
        path = f"/cases/{case_id}/incidents"
        accepted: Json = await self.api.call("routing", "POST", member, path, json=body)
        return await self._outcome(member, accepted)

    async def unlink_incident(self, member: StaffMember, case_id: str, notice_id: str) -> Json:
        """Remove the case's link to an incident."""
        path = f"/cases/{case_id}/incidents/{quote(notice_id, safe='')}"
        accepted: Json = await self.api.call("routing", "DELETE", member, path)
        return await self._outcome(member, accepted)

    async def linked_cases(self, member: StaffMember, notice_id: str) -> list[Json]:
        """The cases linked to an incident that the member may work (supervisors: all)."""
        path = f"/incidents/{quote(notice_id, safe='')}/cases"
        found: list[Json] = await self.api.call("routing", "GET", member, path)
        return found

    async def resolve_linked(
        self, member: StaffMember, notice_id: str, resolution: str
    ) -> list[tuple[int, str]]:
        """Move every linked case that is not Closed or already awaiting verification to
        Pending Customer Verification with the written resolution, each through the workflow
        (a New or Re-Opened case is assigned to the member first); per case, what happened."""
        results: list[tuple[int, str]] = []
        for case in await self.linked_cases(member, notice_id):
            number, case_id = int(case["case_number"]), str(case["case_id"])
            if not staff_logic.resolvable(str(case["status"])):
                results.append((number, f"left as it is: {case['status']}"))
                continue
            try:
                if case["status"] in (Status.NEW.value, Status.RE_OPENED.value):
                    await self.assign(member, case_id, member.id)
                body = {"to_status": Status.PENDING_CUSTOMER_VERIFICATION.value, "note": resolution}
                await self.change_status(member, case_id, body)
            except Refused as exc:
                results.append((number, f"refused: {exc.detail}"))
                continue
            results.append((number, "resolved: awaiting the contact's verification"))
        log.info("resolved linked cases of %s by %s: %d", notice_id, member.id, len(results))
        return results

    async def change_status(self, member: StaffMember, case_id: str, body: Json) -> Json:
        """A workflow move; routing decides, a refusal comes back as Refused."""
        path = f"/cases/{case_id}/status"
        accepted: Json = await self.api.call("routing", "POST", member, path, json=body)
        return await self._outcome(member, accepted)

    async def post(
        self,
        member: StaffMember,
        ref: str,
        body: str,
        files: list[tuple[str, IO[bytes], str]],
        visibility: str = "public",
    ) -> Json:
        """A staff post on the case feed: a public reply the contact sees, or an internal note
        (`visibility` "internal") only staff read."""
        parts = [("files", (name, data, kind)) for name, data, kind in files if name]
        posted: Json = await self.api.call(
            "intake",
            "POST",
            member,
            f"/cases/{ref}/posts",
            data={"body": body, "visibility": visibility},
            files=parts or None,
        )
        return posted

    async def _outcome(self, member: StaffMember, accepted: Json) -> Json:
        """Wait (briefly) for routing's outcome of an accepted command; a rejection is Refused."""
        path = f"/commands/{accepted['command_id']}"
        deadline = time.monotonic() + max(self.settings.read_your_writes_s, 0.5)
        while True:
            outcome: Json = await self.api.call("routing", "GET", member, path)
            if outcome.get("outcome") == "rejected":
                raise Refused(str(outcome.get("reason") or "routing refused the change"), [], 409)
            if outcome.get("outcome") != "pending" or time.monotonic() >= deadline:
                return outcome
            await asyncio.sleep(POLL_SECONDS)
