"""Page routes of the portal: read the request, call the portal service, render a template."""

import secrets
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sse_starlette import EventSourceResponse

from portal import logic
from portal.errors import (
    CaseNotFound,
    CsrfRefused,
    Forbidden,
    NotSignedIn,
    PortalError,
    Refused,
    SignInFailed,
    UnknownContact,
)
from portal.models import CaseTypeCard, Person, Session
from portal.service import Portal
from shared.enums import CaseType

SESSION_COOKIE = "portal_session"
LOGIN_COOKIE = "portal_login"
TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
TEMPLATES.env.globals.update(logic=logic, case_types=logic.CARDS)
TEMPLATES.env.filters["local"] = logic.local


def add_routes(app: FastAPI, portal: Portal) -> None:
    """Mount the pages and the error pages."""
    TEMPLATES.env.globals["link_minutes"] = portal.settings.link_minutes
    TEMPLATES.env.globals["board_url"] = portal.settings.status_board_url.rstrip("/")
    app.include_router(_auth_router(portal))
    app.include_router(_case_router(portal))

    async def on_portal_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PortalError)
        return _error_page(request, portal, exc)

    app.add_exception_handler(PortalError, on_portal_error)


# --- sessions, cookies, CSRF ----------------------------------------------------------------


def _session_of(portal: Portal, request: Request) -> Session | None:
    return portal.cookies.read_session(request.cookies.get(SESSION_COOKIE))


def _set_cookie(portal: Portal, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=portal.settings.secure_cookies,
        path="/",
    )


def _check_csrf(session: Session, token: str | None) -> None:
    if not token or not secrets.compare_digest(token, session.csrf):
        raise CsrfRefused("the form is missing its security token; reload the page and retry")


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status: int = 200,
) -> HTMLResponse:
    """A page, with the request and the session's CSRF token at hand."""
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status)


def _error_page(request: Request, portal: Portal, exc: PortalError) -> Response:
    if isinstance(exc, NotSignedIn):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse(f"/signin?next={_quote(target)}", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    session = _session_of(portal, request)
    person = _maybe_person(portal, session)
    context = {"error": exc, "person": person, "session": session, "banner": None}
    if isinstance(exc, UnknownContact):
        return render(request, "unknown.html", context, exc.status)
    return render(request, "error.html", context, exc.status)


def _maybe_person(portal: Portal, session: Session | None) -> Person | None:
    try:
        return portal.person(session)
    except NotSignedIn:
        return None


def _quote(path: str) -> str:
    return quote(logic.safe_next(path), safe="")


def _auth_router(portal: Portal) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def home(request: Request) -> Response:
        session = _session_of(portal, request)
        return RedirectResponse("/cases" if session else "/signin", status_code=303)

    @router.get("/signin", response_class=HTMLResponse)
    async def signin(request: Request, next: str = "/", signed_out: bool = False) -> Response:
        context = {"next": logic.safe_next(next), "signed_out": signed_out, "person": None}
        return render(request, "signin.html", context)

    @router.post("/signin/email", response_class=HTMLResponse)
    async def email_link(
        request: Request, email: Annotated[str, Form(max_length=320)] = ""
    ) -> Response:
        if "@" not in email:
            refused = {"next": "/", "person": None, "email_error": "Enter your email address."}
            return render(request, "signin.html", refused, 422)
        await portal.send_link(email)
        context = {"person": None, "email": email, "minutes": portal.settings.link_minutes}
        return render(request, "link_sent.html", context)

    @router.get("/signin/link", response_class=HTMLResponse)
    async def link_page(request: Request, token: str = "") -> Response:
        # Mail scanners open links: only the button below (a POST) uses the link up.
        return render(request, "link.html", {"person": None, "token": token})

    @router.post("/signin/link")
    async def redeem(
        request: Request, token: Annotated[str, Form(max_length=4096)] = ""
    ) -> Response:
        try:
            session = await portal.redeem_link(token)
        except SignInFailed as exc:
            context = {"next": "/", "person": None, "link_error": str(exc)}
            return render(request, "signin.html", context, 400)
        response = RedirectResponse("/cases", status_code=303)
        _set_cookie(
            portal,
            response,
            SESSION_COOKIE,
            portal.cookies.session(session),
            portal.settings.session_max_age_s,
        )
        return response

    @router.get("/auth/start")
    async def start(request: Request, next: str = "/") -> Response:
        url, login = await portal.oidc.begin(next)
        response = RedirectResponse(url, status_code=303)
        _set_cookie(portal, response, LOGIN_COOKIE, portal.cookies.login(login), 600)
        return response

    @router.get("/auth/callback")
    async def callback(
        request: Request, code: str = "", state: str = "", error: str = ""
    ) -> Response:
        login = portal.cookies.read_login(request.cookies.get(LOGIN_COOKIE))
        if error or not code:
            denied = {"next": "/", "denied": True, "person": None}
            page: Response = render(request, "signin.html", denied, 400)
            page.delete_cookie(LOGIN_COOKIE, path="/")
            return page
        try:
            session = await portal.sign_in(code, state, login)
        except UnknownContact as exc:
            page = _error_page(request, portal, exc)
            page.delete_cookie(LOGIN_COOKIE, path="/")
            return page
        # Checked again here, not only when the sign-in began: never back to another site.
        target = logic.safe_next(login.next_path) if login else "/"
        response = RedirectResponse(target, status_code=303)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        _set_cookie(
            portal,
            response,
            SESSION_COOKIE,
            portal.cookies.session(session),
            portal.settings.session_max_age_s,
        )
        return response

    @router.post("/signout")
    async def signout(
        request: Request, csrf_token: Annotated[str | None, Form()] = None
    ) -> Response:
        session = _session_of(portal, request)
        if session is not None:
            _check_csrf(session, csrf_token)
        response = RedirectResponse("/signin?signed_out=true", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.post("/district")
    async def district(
        request: Request,
        account_id: Annotated[str, Form(max_length=64)],
        csrf_token: Annotated[str | None, Form()] = None,
        next: Annotated[str, Form()] = "/cases",
    ) -> Response:
        session = _signed_in(portal, request)
        _check_csrf(session, csrf_token)
        switched = portal.switch(session, account_id)
        response = RedirectResponse(logic.safe_next(next), status_code=303)
        _set_cookie(
            portal,
            response,
            SESSION_COOKIE,
            portal.cookies.session(switched),
            max(60, switched.expires_at - int(time.time())),
        )
        return response

    return router


def _signed_in(portal: Portal, request: Request) -> Session:
    session = _session_of(portal, request)
    if session is None:
        raise NotSignedIn("sign in to continue")
    return session


async def _page_context(portal: Portal, request: Request) -> dict[str, Any]:
    session = _signed_in(portal, request)
    person = portal.person(session)
    banner = await portal.banner(person)
    zone = person.district.time_zone
    return {"session": session, "person": person, "banner": banner, "zone": zone}


def _case_router(portal: Portal) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def page(request: Request) -> dict[str, Any]:
        return await _page_context(portal, request)

    Page = Annotated[dict[str, Any], Depends(page)]

    @router.get("/cases", response_class=HTMLResponse)
    async def cases(request: Request, ctx: Page) -> Response:
        query = logic.list_query(request.query_params)
        try:
            found = await portal.cases(ctx["person"], query)
        except Refused as exc:
            found = {"total": 0, "items": [], "page": 1, "pages": 1, "page_size": 20}
            ctx["list_error"] = exc.detail
        return render(request, "cases.html", {**ctx, "query": query, "found": found})

    @router.get("/cases/new", response_class=HTMLResponse)
    async def new_case(request: Request, ctx: Page) -> Response:
        _may_modify(ctx["person"])
        return render(request, "submit.html", ctx)

    @router.get("/cases/new/{slug}", response_class=HTMLResponse)
    async def case_form(request: Request, slug: str, ctx: Page) -> Response:
        card = _card(slug)
        _may_modify(ctx["person"])
        contacts = await portal.contacts(ctx["person"])
        form = {"priority": "Medium", "contact_id": ctx["person"].contact_id}
        return _form_page(request, ctx, card, contacts, form, {})

    @router.post("/cases/new/{slug}", response_class=HTMLResponse)
    async def submit_case(request: Request, slug: str, ctx: Page) -> Response:
        card = _card(slug)
        form = await _form_values(request)
        _check_csrf(ctx["session"], _first(form.get("csrf_token")))
        try:
            created = await portal.submit(ctx["person"], CaseType(card.case_type), form)
        except Refused as exc:
            contacts = await portal.contacts(ctx["person"])
            found = logic.errors_by_field(exc.issues) or {"body": exc.detail}
            errors = logic.in_form_order(found, logic.detail_fields(CaseType(card.case_type)))
            return _form_page(request, ctx, card, contacts, form, errors, 422)
        return RedirectResponse(f"/cases/{created['case_number']}?submitted=1", status_code=303)

    @router.get("/cases/{ref}", response_class=HTMLResponse)
    async def case(request: Request, ref: str, ctx: Page, q: str | None = None) -> Response:
        found = await portal.case(ctx["person"], ref, (q or "").strip()[:200] or None)
        context = {**ctx, "case": found, "q": q or "", "post_key": str(uuid.uuid4())}
        return render(request, "case.html", context)

    @router.get("/cases/{ref}/live")
    async def live(request: Request, ref: str, ctx: Page) -> EventSourceResponse:
        """Server-sent events: `changed` whenever the case or its feed changes."""
        await portal.case(ctx["person"], ref)  # 404 for a case the person may not see

        async def events() -> AsyncIterator[dict[str, str]]:
            async for version in portal.changes(ctx["person"], ref):
                yield {"event": "changed", "data": version}

        return EventSourceResponse(events(), ping=15)

    @router.get("/cases/{ref}/live-part", response_class=HTMLResponse)
    async def live_part(request: Request, ref: str, ctx: Page, q: str | None = None) -> Response:
        found = await portal.case(ctx["person"], ref, (q or "").strip()[:200] or None)
        return render(request, "_live.html", {**ctx, "case": found, "q": q or ""})

    @router.post("/cases/{ref}/posts", response_class=HTMLResponse)
    async def post(
        request: Request,
        ref: str,
        ctx: Page,
        body: Annotated[str, Form(max_length=100_000)] = "",
        csrf_token: Annotated[str | None, Form()] = None,
        idempotency_key: Annotated[str | None, Form(max_length=255)] = None,
        files: Annotated[list[UploadFile] | None, Form()] = None,
    ) -> Response:
        _check_csrf(ctx["session"], csrf_token)
        chosen = [f for f in files or [] if f.filename]
        try:
            logic.check_files([(f.filename or "", f.size or 0) for f in chosen])
            # The spooled upload files themselves: httpx streams them on to intake.
            uploads: list[tuple[str, IO[bytes] | bytes, str]] = [
                (f.filename or "", f.file, f.content_type or "application/octet-stream")
                for f in chosen
            ]
            await portal.post(ctx["person"], ref, body, uploads, idempotency_key)
        except Refused as exc:
            found = await portal.case(ctx["person"], ref)
            context = {
                **ctx,
                "case": found,
                "q": "",
                "post_key": idempotency_key or str(uuid.uuid4()),
                "post_error": exc.detail,
                "post_body": body,
            }
            return render(request, "case.html", context, 422)
        return RedirectResponse(f"/cases/{ref}?posted=1#feed", status_code=303)

    @router.post("/cases/{ref}/close", response_class=HTMLResponse)
    async def close(
        request: Request,
        ref: str,
        ctx: Page,
        note: Annotated[str, Form(max_length=32_000)] = "",
        csrf_token: Annotated[str | None, Form()] = None,
        idempotency_key: Annotated[str | None, Form(max_length=255)] = None,
    ) -> Response:
        _check_csrf(ctx["session"], csrf_token)
        try:
            await portal.close(ctx["person"], ref, note, idempotency_key)
        except Refused as exc:
            return await _case_again(request, ctx, ref, {"command_error": exc.detail})
        return RedirectResponse(f"/cases/{ref}?closed=1", status_code=303)

    @router.post("/cases/{ref}/reopen", response_class=HTMLResponse)
    async def reopen(
        request: Request,
        ref: str,
        ctx: Page,
        details: Annotated[str, Form(max_length=32_000)] = "",
        csrf_token: Annotated[str | None, Form()] = None,
        idempotency_key: Annotated[str | None, Form(max_length=255)] = None,
    ) -> Response:
        _check_csrf(ctx["session"], csrf_token)
        try:
            await portal.reopen(ctx["person"], ref, details, idempotency_key)
        except Refused as exc:
            failed = {"command_error": exc.detail, "reopen_details": details}
            return await _case_again(request, ctx, ref, failed)
        return RedirectResponse(f"/cases/{ref}?reopened=1", status_code=303)

    async def _case_again(
        request: Request, ctx: dict[str, Any], ref: str, extra: dict[str, Any]
    ) -> Response:
        found = await portal.case(ctx["person"], ref)
        context = {**ctx, "case": found, "q": "", "post_key": str(uuid.uuid4()), **extra}
        return render(request, "case.html", context, 422)

    @router.get("/cases/{ref}/recipients", response_class=HTMLResponse)
    async def recipients(
        request: Request,
        ref: str,
        ctx: Page,
        action: str = "",
        contact_id: Annotated[list[str] | None, Query(max_length=100)] = None,
        done: str = "",
    ) -> Response:
        context = await _recipients_context(ctx, ref, action, contact_id or [])
        return render(request, "recipients.html", {**context, "done": done})

    @router.post("/cases/{ref}/recipients", response_class=HTMLResponse)
    async def change_recipients(
        request: Request,
        ref: str,
        ctx: Page,
        action: Annotated[str, Form()],
        contact_id: Annotated[list[str] | None, Form()] = None,
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        _check_csrf(ctx["session"], csrf_token)
        person: Person = ctx["person"]
        chosen = contact_id or []
        if not person.can_modify_cases:  # Read-Only: only themselves
            chosen = [person.contact_id]
        try:
            if action == "add":
                await portal.add_recipients(person, ref, chosen)
            elif action == "remove":
                await portal.remove_recipients(person, ref, chosen)
            else:
                raise Refused("choose Add or Remove", [])
        except Refused as exc:
            context = await _recipients_context(ctx, ref, action, chosen)
            return render(request, "recipients.html", {**context, "error": exc.detail}, 422)
        done = "added" if action == "add" else "removed"
        return RedirectResponse(f"/cases/{ref}/recipients?done={done}", status_code=303)

    async def _recipients_context(
        ctx: dict[str, Any], ref: str, action: str, chosen: list[str]
    ) -> dict[str, Any]:
        person: Person = ctx["person"]
        found = await portal.case(person, ref)
        current = await portal.recipients(person, ref)
        listed = {r["contact_id"] for r in current}
        choices: list[dict[str, Any]] = []
        if action == "add" and person.can_modify_cases:
            choices = [
                c
                for c in await portal.contacts(person)
                if c["contact_type"] != "Read-Only" and c["contact_id"] not in listed
            ]
        elif action == "remove" and person.can_modify_cases:
            choices = [r for r in current if not r.get("owner")]
        picked = [c for c in choices if c["contact_id"] in chosen]
        return {
            **ctx,
            "case": found,
            "recipients": current,
            "action": action if action in ("add", "remove") else "",
            "choices": choices,
            "picked": picked,
            "is_recipient": person.contact_id in listed,
        }

    @router.get("/cases/{ref}/attachments/{attachment_id}")
    async def download(request: Request, ref: str, attachment_id: str, ctx: Page) -> Response:
        path = f"/cases/{ref}/attachments/{attachment_id}"
        headers, body = await portal.api.download(ctx["person"], path)
        return StreamingResponse(body, headers=headers)

    return router


def _may_modify(person: Person) -> None:
    if not person.can_modify_cases:
        raise Forbidden("Read-Only contacts can read every case of their district but not submit")


def _card(slug: str) -> CaseTypeCard:
    card = logic.CARD_BY_SLUG.get(slug)
    if card is None:
        raise CaseNotFound(f"there is no case type {slug!r}; choose one from Submit a Case")
    return card


async def _form_values(request: Request) -> dict[str, str | list[str]]:
    form = await request.form()
    values: dict[str, str | list[str]] = {}
    for key in form:
        items = [str(v) for v in form.getlist(key)]
        values[key] = items if key == "areas_of_responsibility" else items[-1]
    return values


def _first(value: str | list[str] | None) -> str | None:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _form_page(
    request: Request,
    ctx: dict[str, Any],
    card: CaseTypeCard,
    contacts: list[dict[str, Any]],
    form: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    case_type = CaseType(card.case_type)
    context = {
        **ctx,
        "card": card,
        "fields": logic.detail_fields(case_type),
        "priorities": logic.priorities_for(case_type),
        "contacts": contacts,
        "form": form,
        "errors": errors,
        "idempotency_key": form.get("idempotency_key") or str(uuid.uuid4()),
    }
    return render(request, "case_form.html", context, status)
