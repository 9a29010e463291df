"""Break-glass admin API (own port, own bearer token): write notices while Kafka is down."""

import hmac
from datetime import datetime
from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from shared.enums import NoticeKind
from shared.events import Notice, NoticeUpdate
from shared.problems import problem_responses
from status_board import logic
from status_board.board import Board
from status_board.errors import ChangeRejected
from status_board.models import (
    IncidentCreate,
    MaintenanceCreate,
    NoticePatch,
    OutboxStatus,
    ResolveBody,
    UpdateCreate,
)

_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
ERRORS = problem_responses(
    (401, "Missing or wrong admin token"),
    (422, "A field breaks a rule, or the change does not fit the notice"),
)
EXISTS = problem_responses((409, "A notice with this id exists; change it with PATCH"))
UNKNOWN = problem_responses((404, "No notice has this id"))
_CLOSING_TEXT = {
    NoticeKind.INCIDENT: "This incident is resolved.",
    NoticeKind.MAINTENANCE: "Maintenance is complete.",
}


def admin_router(board: Board) -> APIRouter:
    """Routes under /admin, each requiring the admin bearer token."""
    expected = board.settings.admin_token.get_secret_value().encode()

    def authorized(credentials: Credentials) -> None:
        given = (credentials.credentials if credentials else "").encode()
        if not (given and expected and hmac.compare_digest(given, expected)):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "send the status board admin token as 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )

    router = APIRouter(
        prefix="/admin", tags=["admin"], dependencies=[Depends(authorized)], responses=ERRORS
    )
    _add_creates(router, board)
    _add_changes(router, board)
    _add_reads(router, board)
    return router


def _add_creates(router: APIRouter, board: Board) -> None:
    @router.post("/incidents", status_code=201, summary="Open an incident", responses=EXISTS)
    async def create_incident(body: IncidentCreate) -> Notice:
        now = board.clock()
        logic.check_status(NoticeKind.INCIDENT, body.status)
        fields = body.model_dump(exclude={"id", "starts_at"})
        notice = Notice(
            id=body.id or _new_id("incident", now),
            kind=NoticeKind.INCIDENT,
            starts_at=body.starts_at or now,
            **fields,
        )
        return board.create(notice)

    @router.post("/maintenance", status_code=201, summary="Announce maintenance", responses=EXISTS)
    async def create_maintenance(body: MaintenanceCreate) -> Notice:
        now = board.clock()
        logic.check_times(body.starts_at, body.ends_at)
        notice = Notice(
            id=body.id or _new_id("maintenance", now),
            kind=NoticeKind.MAINTENANCE,
            status=logic.scheduled_status(body.starts_at, body.ends_at, now),
            **body.model_dump(exclude={"id"}),
        )
        return board.create(notice)


def _add_changes(router: APIRouter, board: Board) -> None:
    @router.post(
        "/notices/{notice_id}/updates", summary="Post a timestamped update", responses=UNKNOWN
    )
    async def post_update(notice_id: str, body: UpdateCreate) -> Notice:
        current = board.current(notice_id)
        update = NoticeUpdate(
            at=body.at or board.clock(), status=body.status or current.status, body=body.body
        )
        return board.change(current, logic.with_update(current, update))

    @router.patch(
        "/notices/{notice_id}", summary="Change title, body, status or times", responses=UNKNOWN
    )
    async def patch_notice(notice_id: str, body: NoticePatch) -> Notice:
        current = board.current(notice_id)
        return board.change(current, _revised(current, body.model_dump(exclude_unset=True)))

    @router.post(
        "/notices/{notice_id}/resolve",
        summary="Resolve an incident / complete maintenance",
        responses=UNKNOWN,
    )
    async def resolve(notice_id: str, body: ResolveBody) -> Notice:
        current = board.current(notice_id)
        if not current.status.is_open:
            raise ChangeRejected(f"notice {notice_id!r} is already {current.status}")
        update = NoticeUpdate(
            at=body.at or board.clock(),
            status=logic.closing_status(current.kind),
            body=body.body or _CLOSING_TEXT[current.kind],
        )
        return board.change(current, logic.with_update(current, update))


def _add_reads(router: APIRouter, board: Board) -> None:
    @router.get("/notices", summary="Every notice held, open and closed")
    async def list_notices() -> list[Notice]:
        return [item.notice for item in board.store.all()]

    @router.get("/notices/{notice_id}", summary="One notice", responses=UNKNOWN)
    async def get_notice(notice_id: str) -> Notice:
        return board.current(notice_id)

    @router.get("/outbox", summary="What the relay still has to publish to Kafka")
    async def outbox() -> OutboxStatus:
        pending, sent = board.store.outbox_counts()
        refused = board.store.refused_count()
        return OutboxStatus(
            pending=pending, sent=sent, refused=refused, last_heard=board.last_heard
        )


def _revised(current: Notice, changes: dict[str, object]) -> Notice:
    try:
        return logic.revised(current, **changes)
    except ValidationError as exc:
        raise ChangeRejected(f"invalid change: {exc.errors()[0]['msg']}") from exc


def _new_id(kind: str, now: datetime) -> str:
    return f"{kind}-{now:%Y%m%d}-{uuid4().hex[:6]}"
