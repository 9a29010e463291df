"""Staff pages under /staff: vendor sign-in, department queues, the staff case page."""

import secrets
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sse_starlette import EventSourceResponse

from portal import contact_change, logic, sla_chart, staff_logic
from portal.api import SESSION_COOKIE, TEMPLATES, render
from portal.errors import CaseNotFound, CsrfRefused, Refused, SignInFailed, Unavailable
from portal.service import Portal
from portal.staff_service import (
    StaffApi,
    StaffCookies,
    StaffDirectory,
    StaffPortal,
    StaffSession,
    vendor_oidc,
)
from shared.enums import Department
from shared.events import StaffMember
from shared.identity import IdentityKeys

STAFF_COOKIE = "portal_staff"
STAFF_LOGIN_COOKIE = "portal_staff_login"
TEMPLATES.env.globals.update(staff_logic=staff_logic, departments=list(Department))


def build_staff(portal: Portal, http: httpx.AsyncClient) -> StaffPortal:
    """The staff workspace over the portal's directory (a StaffDirectory) and HTTP client."""
    settings = portal.settings
    directory = portal.directory
    if not isinstance(directory, StaffDirectory):
        raise TypeError("the staff workspace needs the portal to read staff: use StaffDirectory")
    keys = IdentityKeys(settings.identity_signing_key.get_secret_value())
    return StaffPortal(
        settings,
        directory,
        vendor_oidc(settings, http),
        StaffApi(settings, keys, http),
        StaffCookies(settings.session_secret.get_secret_value()),
        portal.signals,
    )


def install_staff(app: FastAPI, staff: StaffPortal) -> None:
    """Mount the staff pages; `app.state.staff` is what they use (tests may replace it)."""
    app.state.staff = staff
    app.include_router(_auth_router())
    app.include_router(_queue_router())
    app.include_router(_case_router())
    app.include_router(_notice_router())


def _staff(request: Request) -> StaffPortal:
    found: StaffPortal = request.app.state.staff
    return found


def _set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
    secure = _staff(request).settings.secure_cookies
    response.set_cookie(
        name, value, max_age=age, httponly=True, samesite="lax", secure=secure, path="/"
    )


async def staff_context(request: Request) -> dict[str, Any]:
    """The signed-in staff member; a contact session or none gets a 404, never a staff page."""
    staff = _staff(request)
    session = staff.cookies.decode(request.cookies.get(STAFF_COOKIE))
    member = staff.directory.active_staff(session.staff_id) if session else None
    if session is None or member is None:
        if request.cookies.get(SESSION_COOKIE):
            raise CaseNotFound("there is no such page")
        target = urlencode({"next": _staff_path(request.url.path)})
        raise HTTPException(303, headers={"Location": f"/staff/signin?{target}"})
    return {
        "staff_session": session,
        "member": member,
        "person": None,
        "banner": None,
        "my_departments": staff_logic.departments_of(member),
        "zone": "America/Chicago",
    }


def _staff_path(target: str) -> str:
    """A staff page to return to after sign-in; anything else is the staff home."""
    safe = logic.safe_next(target)
    return safe if safe == "/staff" or safe.startswith("/staff/") else "/staff"


StaffPage = Annotated[dict[str, Any], Depends(staff_context)]


def _check_csrf(session: StaffSession, token: str | None) -> None:
    if not token or not secrets.compare_digest(token, session.csrf):
        raise CsrfRefused("the form is missing its security token; reload the page and retry")


def _auth_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/staff/signin", response_class=HTMLResponse)
    async def signin(request: Request, next: str = "/staff", error: str = "") -> Response:
        context = {"person": None, "member": None, "next": next, "error": error}
        return render(request, "staff_signin.html", context, 400 if error else 200)

    @router.get("/staff/auth/start")
    async def start(request: Request, next: str = "/staff") -> Response:
        staff = _staff(request)
        url, login = await staff.oidc.begin(_staff_path(next))
        response = RedirectResponse(url, status_code=303)
        cookie = _portal_cookies(request).login(login)
        _set_cookie(request, response, STAFF_LOGIN_COOKIE, cookie, 600)
        return response

    @router.get("/staff/auth/callback")
    async def callback(
        request: Request, code: str = "", state: str = "", error: str = ""
    ) -> Response:
        staff = _staff(request)
        login = _portal_cookies(request).read_login(request.cookies.get(STAFF_LOGIN_COOKIE))
        try:
            if error or not code:
                raise SignInFailed("the vendor's identity provider did not sign you in")
            session = await staff.sign_in(code, state, login)
        except SignInFailed as exc:
            context = {"person": None, "member": None, "next": "/staff", "error": str(exc)}
            page = render(request, "staff_signin.html", context, 403)
            page.delete_cookie(STAFF_LOGIN_COOKIE, path="/")
            return page
        response = RedirectResponse(_staff_path(login.next_path if login else ""), 303)
        response.delete_cookie(STAFF_LOGIN_COOKIE, path="/")
        # A staff session never rides on a contact's: one browser, one role at a time.
        response.delete_cookie(SESSION_COOKIE, path="/")
        age = staff.settings.session_max_age_s
        _set_cookie(request, response, STAFF_COOKIE, staff.cookies.encode(session), age)
        return response

    @router.post("/staff/signout")
    async def signout(
        request: Request, ctx: StaffPage, csrf_token: Annotated[str | None, Form()] = None
    ) -> Response:
        _check_csrf(ctx["staff_session"], csrf_token)
        response = RedirectResponse("/staff/signin", status_code=303)
        response.delete_cookie(STAFF_COOKIE, path="/")
        return response

    return router


def _portal_cookies(request: Request) -> Any:
    """The portal's cookie codec (for the sign-in state cookie)."""
    return request.app.state.portal.cookies


def _queue_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/staff")
    async def home(request: Request, ctx: StaffPage) -> Response:
        first = ctx["my_departments"][0]
        return RedirectResponse(f"/staff/queues/{first.slug}", status_code=303)

    async def queue_page(
        request: Request, slug: str, ctx: dict[str, Any], error: str = "", status: int = 200
    ) -> Response:
        staff = _staff(request)
        department = staff.department(ctx["member"], slug)
        query = staff_logic.queue_query(request.query_params)
        shown, problem = await _queue_shown(staff, ctx["member"], slug, query)
        colleagues = await staff.colleagues(ctx["member"], slug)
        context = {
            **ctx,
            "department": department,
            "slug": slug,
            "query": query,
            "shown": shown,
            "colleagues": colleagues,
            "done": request.query_params.get("done", "") == "taken",
            "error": error or problem,
        }
        return render(request, "staff_queue.html", context, 400 if problem else status)

    @router.get("/staff/reports/sla", response_class=HTMLResponse)
    async def sla_report(request: Request, ctx: StaffPage) -> Response:
        raw = request.query_params.get("weeks")
        weeks = sla_chart.weeks_param(raw)
        if weeks is None:
            context = {**ctx, "weeks": raw, "report": None, "charts": {}}
            context["error"] = "Weeks must be a whole number from 1 to 52."
            return render(request, "staff_sla_report.html", context, 400)
        report = await _staff(request).sla_report(ctx["member"], weeks)
        charts = sla_chart.department_charts(report)
        context = {**ctx, "weeks": weeks, "report": report, "charts": charts, "error": ""}
        return render(request, "staff_sla_report.html", context)

    @router.get("/staff/queues/{slug}", response_class=HTMLResponse)
    async def queue(request: Request, slug: str, ctx: StaffPage) -> Response:
        return await queue_page(request, slug, ctx)

    @router.get("/staff/queues/{slug}/part", response_class=HTMLResponse)
    async def queue_part(request: Request, slug: str, ctx: StaffPage) -> Response:
        staff = _staff(request)
        department = staff.department(ctx["member"], slug)
        query = staff_logic.queue_query(request.query_params)
        fresh = staff.settings.live_poll_s  # the page the live stream just saw change
        shown, problem = await _queue_shown(staff, ctx["member"], slug, query, fresh)
        context = {**ctx, "department": department, "slug": slug, "query": query, "shown": shown}
        return render(request, "_staff_queue.html", context, 400 if problem else 200)

    @router.get("/staff/queues/{slug}/live")
    async def queue_live(request: Request, slug: str, ctx: StaffPage) -> EventSourceResponse:
        """Server-sent events: `changed` whenever the department's queue changes."""
        staff = _staff(request)
        staff.department(ctx["member"], slug)
        query = staff_logic.queue_query(request.query_params)
        try:
            staff_logic.queue_page(query)
        except staff_logic.FormProblem as exc:
            raise Refused(str(exc), [], 400) from exc

        async def events() -> AsyncIterator[dict[str, str]]:
            async for version in staff.queue_changes(ctx["member"], slug, query):
                yield {"event": "changed", "data": version}

        return EventSourceResponse(events(), ping=15)

    @router.post("/staff/queues/{slug}/take")
    async def take_next(
        request: Request,
        slug: str,
        ctx: StaffPage,
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        staff = _staff(request)
        _check_csrf(ctx["staff_session"], csrf_token)
        staff.department(ctx["member"], slug)
        try:
            await staff.take_next(ctx["member"], slug)
        except (Refused, CaseNotFound) as exc:  # routing: nothing to take (404) or refused
            return await queue_page(request, slug, ctx, _reason(exc), 409)
        return _back(f"/staff/queues/{slug}", done="taken")

    return router


EMPTY_QUEUE: dict[str, Any] = {
    "items": [], "total": 0, "counts": [], "page": 1, "pages": 1, "page_size": 50
}  # fmt: skip


async def _queue_shown(
    staff: StaffPortal, member: StaffMember, slug: str, query: dict[str, str], fresh_s: float = 0
) -> tuple[dict[str, Any], str]:
    """The queue page the query asks for, or nothing and why (a bad page or filter value)."""
    try:
        return await staff.queue(member, slug, query, fresh_s), ""
    except (staff_logic.FormProblem, Refused) as exc:
        return EMPTY_QUEUE, _reason(exc)


def _back(path: str, **params: str) -> Response:
    return RedirectResponse(f"{path}?{urlencode(params)}", status_code=303)


def _case_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def page(
        request: Request, ctx: dict[str, Any], ref: str, extra: dict[str, Any], status: int = 200
    ) -> Response:
        staff = _staff(request)
        member: StaffMember = ctx["member"]
        case, routed = await staff.case(member, ref)
        department = str(routed["department"])
        slug = Department(department).slug
        may = staff_logic.may_work(member, department)
        colleagues = await staff.colleagues(member, slug) if may else []
        account = str(routed.get("account_id", ""))
        open_ones = await staff.open_incidents(member, account) if may else []
        linked = [str(i["notice_id"]) for i in routed.get("incidents", [])]
        suggestion = staff_logic.suggested_incident(
            str(routed.get("case_type", "")), str(routed["status"]), open_ones or [], linked
        )
        context = {
            **ctx,
            "case": case,
            "routed": routed,
            "may_work": may,
            "controls": staff_logic.controls_for(str(routed["status"]), member, department),
            "colleagues": colleagues,
            "open_incidents": open_ones,
            "linkable": [n for n in open_ones or [] if n.get("id") not in linked],
            "suggested_incident": suggestion,
            "board_url": staff.settings.status_board_url.rstrip("/"),
            "q": "",
            "done": staff_logic.done_message(request.query_params.get("done", "")),
            **extra,
        }
        return render(request, "staff_case.html", context, status)

    @router.get("/staff/cases/{ref}", response_class=HTMLResponse)
    async def case(request: Request, ref: str, ctx: StaffPage) -> Response:
        return await page(request, ctx, ref, {})

    @router.get("/staff/cases/{ref}/live")
    async def live(request: Request, ref: str, ctx: StaffPage) -> EventSourceResponse:
        """Server-sent events: `changed` whenever the case or its feed changes."""
        staff = _staff(request)
        await staff.case(ctx["member"], ref)  # 404 for a case that does not exist

        async def events() -> AsyncIterator[dict[str, str]]:
            async for version in staff.case_changes(ctx["member"], ref):
                yield {"event": "changed", "data": version}

        return EventSourceResponse(events(), ping=15)

    @router.get("/staff/cases/{ref}/live-part", response_class=HTMLResponse)
    async def live_part(request: Request, ref: str, ctx: StaffPage) -> Response:
        case, _ = await _staff(request).case(ctx["member"], ref)
        return render(request, "_staff_live.html", {**ctx, "case": case})

    @router.post("/staff/cases/{ref}/status/{target}", response_class=HTMLResponse)
    async def change(request: Request, ref: str, target: str, ctx: StaffPage) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        _check_csrf(ctx["staff_session"], form.get("csrf_token"))
        control = staff_logic.control_by_slug(target)
        if control is None:
            raise CaseNotFound(f"there is no status {target!r}")
        staff = _staff(request)
        try:
            body = staff_logic.status_body(control, form)
            _, routed = await staff.case(ctx["member"], ref)
            await staff.change_status(ctx["member"], str(routed["case_id"]), body)
        except (staff_logic.FormProblem, Refused) as exc:
            failed = {"failed": control.slug, "failure": _reason(exc), "form": form}
            return await page(request, ctx, ref, failed, 422)
        return _back(f"/staff/cases/{ref}", done=control.label)

    @router.post("/staff/cases/{ref}/assign", response_class=HTMLResponse)
    async def assign(
        request: Request,
        ref: str,
        ctx: StaffPage,
        assignee_id: Annotated[str, Form(max_length=64)] = "",
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        _check_csrf(ctx["staff_session"], csrf_token)
        staff = _staff(request)
        chosen = ctx["member"].id if assignee_id == "me" else assignee_id
        try:
            _, routed = await staff.case(ctx["member"], ref)
            await staff.assign(ctx["member"], str(routed["case_id"]), chosen or None)
        except Refused as exc:
            return await page(request, ctx, ref, {"failed": "assign", "failure": exc.detail}, 422)
        return _back(f"/staff/cases/{ref}", done="Assigned" if chosen else "Assigned by policy")

    @router.post("/staff/cases/{ref}/transfer", response_class=HTMLResponse)
    async def transfer(
        request: Request,
        ref: str,
        ctx: StaffPage,
        department: Annotated[str, Form(max_length=64)] = "",
        reason: Annotated[str, Form(max_length=2_000)] = "",
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        _check_csrf(ctx["staff_session"], csrf_token)
        staff = _staff(request)
        try:
            if not reason.strip():
                raise Refused("Say why the case moves: the reason shows on the case.", [])
            _, routed = await staff.case(ctx["member"], ref)
            await staff.transfer(ctx["member"], str(routed["case_id"]), department, reason)
        except Refused as exc:
            failed = {"failed": "transfer", "failure": exc.detail, "form": {"reason": reason}}
            return await page(request, ctx, ref, failed, 422)
        return _back(f"/staff/cases/{ref}", done=f"Transferred to {department}")

    @router.post("/staff/cases/{ref}/triage", response_class=HTMLResponse)
    async def triage(request: Request, ref: str, ctx: StaffPage) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        _check_csrf(ctx["staff_session"], form.get("csrf_token"))
        staff = _staff(request)
        try:
            body = staff_logic.triage_body(form)
            _, routed = await staff.case(ctx["member"], ref)
            await staff.record_triage(ctx["member"], str(routed["case_id"]), body)
        except (staff_logic.FormProblem, Refused) as exc:
            failed = {"failed": "triage", "failure": _reason(exc), "form": form}
            return await page(request, ctx, ref, failed, 422)
        return _back(f"/staff/cases/{ref}", done="Impact assessment recorded")

    @router.post("/staff/cases/{ref}/priority", response_class=HTMLResponse)
    async def priority(request: Request, ref: str, ctx: StaffPage) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        _check_csrf(ctx["staff_session"], form.get("csrf_token"))
        staff = _staff(request)
        try:
            _, routed = await staff.case(ctx["member"], ref)
            body = staff_logic.priority_body(form, str(routed.get("case_type", "")))
            await staff.change_priority(ctx["member"], str(routed["case_id"]), body)
        except (staff_logic.FormProblem, Refused) as exc:
            failed = {"failed": "priority", "failure": _reason(exc), "form": form}
            return await page(request, ctx, ref, failed, 422)
        return _back(f"/staff/cases/{ref}", done=f"Priority set to {body['priority']}")

    @router.post("/staff/cases/{ref}/posts", response_class=HTMLResponse)
    async def post(
        request: Request,
        ref: str,
        ctx: StaffPage,
        body: Annotated[str, Form(max_length=100_000)] = "",
        csrf_token: Annotated[str | None, Form()] = None,
        files: Annotated[list[UploadFile] | None, Form()] = None,
        visibility: Annotated[str, Form(max_length=16)] = "public",
    ) -> Response:
        _check_csrf(ctx["staff_session"], csrf_token)
        chosen = [(f.filename or "", f.file, f.content_type or "") for f in files or []]
        try:
            if visibility not in staff_logic.POSTED:
                raise Refused("Choose who reads it: the customer, or staff only.", [])
            named = [c for c in chosen if c[0]]
            await _staff(request).post(ctx["member"], ref, body, list(named), visibility)
        except Refused as exc:
            form = {"body": body, "visibility": visibility}
            failed = {"failed": "post", "failure": exc.detail, "form": form}
            return await page(request, ctx, ref, failed, 422)
        return _back(f"/staff/cases/{ref}", done=staff_logic.POSTED[visibility])

    @router.post("/staff/cases/{ref}/incidents", response_class=HTMLResponse)
    async def link(
        request: Request,
        ref: str,
        ctx: StaffPage,
        notice_id: Annotated[str, Form(max_length=64)] = "",
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        _check_csrf(ctx["staff_session"], csrf_token)
        staff = _staff(request)
        try:
            if not notice_id:
                raise Refused("Choose the incident to link the case to.", [])
            _, routed = await staff.case(ctx["member"], ref)
            account = str(routed["account_id"])
            await staff.link_incident(ctx["member"], str(routed["case_id"]), notice_id, account)
        except (Refused, Unavailable) as exc:
            return await page(request, ctx, ref, {"failed": "link", "failure": _reason(exc)}, 422)
        return _back(f"/staff/cases/{ref}", done=staff_logic.LINK_DONE[0])

    @router.post("/staff/cases/{ref}/incidents/{notice_id}/unlink", response_class=HTMLResponse)
    async def unlink(
        request: Request,
        ref: str,
        notice_id: str,
        ctx: StaffPage,
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        _check_csrf(ctx["staff_session"], csrf_token)
        staff = _staff(request)
        try:
            _, routed = await staff.case(ctx["member"], ref)
            await staff.unlink_incident(ctx["member"], str(routed["case_id"]), notice_id)
        except Refused as exc:
            return await page(request, ctx, ref, {"failed": "link", "failure": exc.detail}, 422)
        return _back(f"/staff/cases/{ref}", done=staff_logic.LINK_DONE[1])

    @router.post("/staff/cases/{ref}/contact-change", response_class=HTMLResponse)
    async def apply_contact_change(
        request: Request,
        ref: str,
        ctx: StaffPage,
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        _check_csrf(ctx["staff_session"], csrf_token)
        try:
            outcome = await contact_change.apply(_staff(request), ctx["member"], ref)
        except Refused as exc:  # intake's (or the mapping's) reason, next to the control
            failed = {"failed": "contact-change", "failure": exc.detail}
            return await page(request, ctx, ref, failed, 422)
        return RedirectResponse(
            f"/staff/cases/{ref}?contact_change={outcome}#contact-change", status_code=303
        )

    @router.get("/staff/cases/{ref}/attachments/{attachment_id}")
    async def download(request: Request, ref: str, attachment_id: str, ctx: StaffPage) -> Response:
        path = f"/cases/{ref}/attachments/{attachment_id}"
        headers, body = await _staff(request).api.download(ctx["member"], path)
        return StreamingResponse(body, headers=headers)

    return router


def _notice_router() -> APIRouter:
    """The status board's incidents and maintenance, opened, updated and resolved by staff
    through the board's admin API (which keeps working while Kafka is down)."""
    router = APIRouter(include_in_schema=False)

    def manager(ctx: dict[str, Any]) -> StaffMember:
        member: StaffMember = ctx["member"]
        if not staff_logic.may_manage_notices(member):
            raise CaseNotFound("there is no such page")  # absent, like every forbidden control
        return member

    async def page(
        request: Request, ctx: dict[str, Any], extra: dict[str, Any], status: int = 200
    ) -> Response:
        member = manager(ctx)
        staff = _staff(request)
        notices = await staff.notices(member)
        linked: dict[str, list[Any] | None] = {}
        for notice in notices:
            if notice.get("kind") == "incident":
                try:
                    linked[str(notice["id"])] = await staff.linked_cases(member, str(notice["id"]))
                except Unavailable:  # routing away: the board's own controls still work
                    linked[str(notice["id"])] = None
        context = {
            **ctx,
            "notices": notices,
            "linked": linked,
            "statuses": staff_logic.INCIDENT_STATUSES,
            "done": staff_logic.done_message(request.query_params.get("done", "")),
            **extra,
        }
        return render(request, "staff_notices.html", context, status)

    @router.get("/staff/notices", response_class=HTMLResponse)
    async def notices(request: Request, ctx: StaffPage) -> Response:
        return await page(request, ctx, {})

    async def write(request: Request, ctx: dict[str, Any], action: str, done: str) -> Response:
        member = manager(ctx)
        form = {k: str(v) for k, v in (await request.form()).items()}
        _check_csrf(ctx["staff_session"], form.get("csrf_token"))
        staff = _staff(request)
        try:
            path, body = await _notice_change(staff, member, action, form, ctx["zone"])
            await staff.notice_write(member, path, body)
        except (staff_logic.FormProblem, Refused) as exc:
            failed = {"failed": action, "failure": _reason(exc), "form": form}
            return await page(request, ctx, failed, 422)
        return _back("/staff/notices", done=done)

    @router.post("/staff/notices/incidents", response_class=HTMLResponse)
    async def open_incident(request: Request, ctx: StaffPage) -> Response:
        return await write(request, ctx, "incident", "Incident opened")

    @router.post("/staff/notices/maintenance", response_class=HTMLResponse)
    async def announce(request: Request, ctx: StaffPage) -> Response:
        return await write(request, ctx, "maintenance", "Maintenance announced")

    @router.post("/staff/notices/{notice_id}/updates", response_class=HTMLResponse)
    async def update(request: Request, notice_id: str, ctx: StaffPage) -> Response:
        return await write(request, ctx, f"update:{notice_id}", "Update posted")

    @router.post("/staff/notices/{notice_id}/resolve", response_class=HTMLResponse)
    async def resolve(request: Request, notice_id: str, ctx: StaffPage) -> Response:
        return await write(request, ctx, f"resolve:{notice_id}", "Notice closed")

    @router.post("/staff/notices/{notice_id}/resolve-cases", response_class=HTMLResponse)
    async def resolve_cases(
        request: Request,
        notice_id: str,
        ctx: StaffPage,
        resolution: Annotated[str, Form(max_length=32_000)] = "",
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        member = manager(ctx)
        _check_csrf(ctx["staff_session"], csrf_token)
        staff = _staff(request)
        action = f"cases:{notice_id}"
        try:
            notice = await staff.notice(member, notice_id)  # a 404 page for an unknown one
            if not resolution.strip():
                raise Refused("Write the resolution: each case's contact reads it.", [])
            results = await staff.resolve_linked(member, str(notice["id"]), resolution)
        except Refused as exc:
            failed = {"failed": action, "failure": exc.detail, "form": {"resolution": resolution}}
            return await page(request, ctx, failed, 422)
        return await page(request, ctx, {"resolved": {"notice": notice, "results": results}})

    return router


async def _notice_change(
    staff: StaffPortal, member: StaffMember, action: str, form: dict[str, str], zone: str
) -> tuple[str, dict[str, Any]]:
    """The admin API path and body of a notices form."""
    if action == "incident":
        return "/incidents", staff_logic.incident_body(form)
    if action == "maintenance":
        return "/maintenance", staff_logic.maintenance_body(form, zone)
    verb, notice_id = action.split(":", 1)
    notice = await staff.notice(member, notice_id)  # a 404 page for one the board lacks
    notice_id = str(notice["id"])
    if verb == "update":
        return f"/notices/{notice_id}/updates", staff_logic.update_body(form, str(notice["kind"]))
    closing = form.get("body", "").strip()
    return f"/notices/{notice_id}/resolve", ({"body": closing} if closing else {})


def _reason(exc: Exception) -> str:
    return exc.detail if isinstance(exc, Refused) else str(exc)  # the service's own words
