"""A bad notice (held, or read from Kafka) or a refused outbox row never stops the board."""

import json
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka.errors import (
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    TopicAuthorizationFailedError,
)

from shared.enums import NoticeKind, NoticeStatus
from shared.events import NOTICE_EVENTS, Notice, NoticePublished, NoticeUpdated
from status_board.app import create_board
from status_board.errors import NoticeUnshowable
from status_board.handlers import on_notice_record
from status_board.logic import Tab
from status_board.relay import send_pending
from status_board.render import Renderer, View
from status_board.service import Board
from status_board.settings import Settings

T0 = datetime(2024, 7, 30, 18, 27, tzinfo=UTC)
YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"
Make = Callable[..., Notice]


def _hold(board: Board, *notices: Notice) -> None:
    for notice in notices:
        board.store.keep(NoticeUpdated(notice=notice, occurred_at=T0))


def test_restart_with_a_year_one_notice_held_serves_the_rest(
    settings: Settings, make_notice: Make
) -> None:
    """A held notice starting 0001-01-01 is left out; the board starts and shows the rest."""
    first = create_board(settings)
    _hold(first, make_notice(id="bad", title="Year one", starts_at=YEAR_ONE))
    _hold(first, make_notice(id="good", title="Login outage"))
    first.store.close()
    board = create_board(settings)
    page = board.snapshot().pages[Tab.OPEN].body
    assert b"Login outage" in page
    assert b"Year one" not in page
    entries = ET.fromstring(board.snapshot().feed.body).findall(f"{ATOM}entry")
    assert len(entries) == 1
    assert board.snapshot().notice("bad") is None
    board.store.close()


def test_unreadable_row_is_left_out(settings: Settings, make_notice: Make) -> None:
    """A row whose document no longer parses is skipped; everything else is served."""
    first = create_board(settings)
    _hold(first, make_notice(id="good", title="Login outage"))
    first.store.close()
    db = sqlite3.connect(settings.db_path)
    db.execute(
        "INSERT INTO notices VALUES ('junk', 1, ?, 'x', '{\"id\": \"junk\"}')", (T0.isoformat(),)
    )
    db.commit()
    db.close()
    board = create_board(settings)
    assert [item.notice.id for item in board.store.all()] == ["good"]
    assert board.store.get("junk") is None
    assert b"Login outage" in board.snapshot().pages[Tab.OPEN].body
    board.store.close()


async def test_admin_writes_go_on_with_a_bad_notice_held(
    board: Board, admin: httpx.AsyncClient, public: httpx.AsyncClient, make_notice: Make
) -> None:
    """With a year-one notice held, new notices are written, shown and queued as usual."""
    _hold(board, make_notice(id="bad", starts_at=YEAR_ONE))
    board.refresh()
    body = {"id": "login", "title": "Login outage", "body": "Investigating."}
    assert (await admin.post("/admin/incidents", json=body)).status_code == 201
    assert "Login outage" in (await public.get("/")).text
    assert (await public.get("/feed.atom")).status_code == 200
    assert board.store.outbox_counts() == (1, 0)


def test_ingest_refuses_a_notice_it_could_never_show(board: Board, make_notice: Make) -> None:
    """A year-one notice from Kafka raises NoticeUnshowable (dead-lettered) and is not kept."""
    record = NoticePublished(notice=make_notice(starts_at=YEAR_ONE)).model_dump_json().encode()
    with pytest.raises(NoticeUnshowable):
        on_notice_record(board, b"n1", record)
    assert board.store.all() == []


def test_ingest_refuses_an_event_time_at_the_calendar_edge(board: Board, make_notice: Make) -> None:
    """An occurred_at that cannot be turned into UTC is refused before the store sees it."""
    event = json.loads(NoticePublished(notice=make_notice()).model_dump_json())
    event["occurred_at"] = "0001-01-01T00:00:00+01:00"
    with pytest.raises(NoticeUnshowable):
        on_notice_record(board, b"n1", json.dumps(event).encode())
    assert board.store.all() == []


class BrokenRenderer(Renderer):
    """Fails on any notice titled "boom", the way an unforeseen rendering fault would."""

    def _html(self, name: str, view: View, **context: Any) -> bytes:
        shown = context.get("notices") or [context.get("notice")]
        if any(notice is not None and notice.title == "boom" for notice in shown):
            raise RuntimeError("cannot render")
        return super()._html(name, view, **context)


def test_a_notice_that_does_not_render_is_set_aside(
    board: Board, settings: Settings, make_notice: Make
) -> None:
    """When the snapshot fails, notices are tried one by one; only the broken one is left out."""
    board.renderer = BrokenRenderer(settings)
    _hold(board, make_notice(id="boom", title="boom"), make_notice(id="ok", title="Login outage"))
    board.refresh()
    page = board.snapshot().pages[Tab.OPEN].body
    assert b"Login outage" in page
    assert board.snapshot().notice("boom") is None


class FussyBroker:
    """Kafka with a 1 MiB limit: larger records are refused; it can also be down or unauthorized."""

    def __init__(self, fault: Exception | None = None) -> None:
        self.fault = fault
        self.published: list[tuple[bytes, str, dict[str, str]]] = []

    async def publish(self, body: bytes, *, topic: str, key: bytes, headers: Any) -> None:
        if self.fault is not None:
            raise self.fault
        if len(body) > 1_048_576:
            raise MessageSizeTooLargeError("the message is too large")
        self.published.append((body, topic, headers))


def _outbox(board: Board, make_notice: Make) -> None:
    board.write(NoticePublished(notice=make_notice(id="huge", body="x" * 1_100_000)))
    board.write(NoticePublished(notice=make_notice(id="after")))


async def test_relay_dead_letters_a_refused_row_and_goes_on(
    board: Board, make_notice: Make
) -> None:
    """A 1.1 MB row is dead-lettered to incident.events.dlq and set aside; the next row is sent."""
    _outbox(board, make_notice)
    broker = FussyBroker()
    assert await send_pending(board, broker, "incident.events") == 1  # type: ignore[arg-type]
    [(dead, dlq, headers), (sent, topic, _)] = broker.published
    assert (dlq, topic) == ("incident.events.dlq", "incident.events")
    assert "MessageSizeTooLarge" in headers["x-error"]
    assert headers["x-original-topic"] == "incident.events"
    assert b"huge" in dead
    assert len(dead) < 1000
    assert NOTICE_EVENTS.validate_json(sent).notice.id == "after"
    assert board.store.outbox_counts() == (0, 1)
    assert board.store.refused_count() == 1


@pytest.mark.parametrize(
    "fault",
    [ConnectionError("down"), KafkaTimeoutError(), TopicAuthorizationFailedError()],
    ids=["connection", "timeout", "authorization"],
)
async def test_relay_waits_out_faults_that_are_not_the_rows(
    board: Board, make_notice: Make, fault: Exception
) -> None:
    """Kafka down, a timeout or missing rights: nothing is dead-lettered, every row waits."""
    _outbox(board, make_notice)
    with pytest.raises(type(fault)):
        await send_pending(board, FussyBroker(fault), "incident.events")  # type: ignore[arg-type]
    assert board.store.outbox_counts() == (2, 0)
    assert board.store.refused_count() == 0


def test_maintenance_clock_skips_a_notice_it_cannot_show(board: Board, make_notice: Make) -> None:
    """Due maintenance moves on even when a year-one maintenance notice is held."""
    maintenance = {"kind": NoticeKind.MAINTENANCE, "status": NoticeStatus.SCHEDULED}
    bad = make_notice(id="bad", starts_at=YEAR_ONE, ends_at=YEAR_ONE, **maintenance)
    due = make_notice(
        id="due",
        starts_at=T0 - timedelta(minutes=1),
        ends_at=T0 + timedelta(hours=1),
        **maintenance,
    )
    _hold(board, bad, due)
    assert board.tick() == 1
    assert board.current("due").status is NoticeStatus.IN_PROGRESS
    assert board.current("bad").status is NoticeStatus.SCHEDULED
