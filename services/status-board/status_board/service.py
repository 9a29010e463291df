"""Use cases of the status board (admin changes, ingest, relay, clock) and its public snapshot."""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import uuid4

from prometheus_client import Gauge
from pydantic import ValidationError

from shared.enums import NoticeKind
from shared.events import AnyNoticeEvent, Notice, NoticeUpdate
from shared.messages import utcnow
from status_board import logic
from status_board.errors import ChangeRejected, NoticeExists, NoticeNotFound, NoticeUnshowable
from status_board.export import Exporter
from status_board.models import (
    IncidentCreate,
    MaintenanceCreate,
    NoticePatch,
    OutboxStatus,
    ResolveBody,
    UpdateCreate,
)
from status_board.ops import BoardMetrics
from status_board.render import Freshness, Renderer, View
from status_board.settings import Settings
from status_board.snapshot import Snapshot
from status_board.store import NoticeStore, OutboxRow, Stored

Clock = Callable[[], datetime]
LAST_HEARD = "last_heard"
SYNCED_AT = "synced_at"
_PERSIST_HEARD_EVERY = timedelta(seconds=10)

log = logging.getLogger("status_board")


class Board:
    """The board's use cases, shared in one process by both apps and the background tasks.

    Public reads come from the snapshot; admin changes, Kafka ingest, the relay and the
    maintenance clock go through the methods below, which decide through logic.py and
    write through store.py.
    """

    def __init__(self, settings: Settings, store: NoticeStore, *, clock: Clock = utcnow) -> None:
        self.settings, self.store, self.clock = settings, store, clock
        self.renderer = Renderer(settings)
        self.metrics = BoardMetrics()
        self.stale_after = timedelta(seconds=settings.stale_after_s)
        self.last_heard = self._heard_saved = store.read_time(LAST_HEARD)
        self.synced_at = store.read_time(SYNCED_AT)
        self.outbox_ready = asyncio.Event()
        self._set_aside: set[tuple[str, int]] = set()
        self.exporter = Exporter(settings.export_dir) if settings.export_dir else None
        self._snapshot = self._build()
        self._export()
        self._gauges()

    def _gauges(self) -> None:
        registry = self.metrics.registry
        age = Gauge(
            "status_board_kafka_heard_age_seconds", "Since Kafka answered.", registry=registry
        )
        age.set_function(self._heard_age)
        pending = Gauge(
            "status_board_outbox_pending", "Rows not yet acknowledged.", registry=registry
        )
        pending.set_function(lambda: self.store.outbox_counts()[0])

    def _heard_age(self) -> float:
        if self.last_heard is None:
            return float("inf")
        return (self.clock() - self.last_heard).total_seconds()

    def snapshot(self) -> Snapshot:
        """The current snapshot; rebuilt when live updates turned late since it was built."""
        current = self._snapshot
        if current.stale != self._stale_now():
            current = self.refresh()
        return current

    def refresh(self) -> Snapshot:
        """Rebuild the snapshot from the store (after any change); on failure keep the last one."""
        try:
            self._snapshot = self._build()
        except Exception:
            log.exception("snapshot rebuild failed; still serving the previous snapshot")
            return self._snapshot
        self.metrics.builds.inc()
        self._export()
        return self._snapshot

    def _export(self) -> None:
        """Hand the current snapshot to the static export, when one is configured."""
        if self.exporter is not None:
            self.exporter.publish(self._snapshot)

    def close(self) -> None:
        """Finish the static export and close the store."""
        if self.exporter is not None:
            self.exporter.close()
        self.store.close()

    def _build(self) -> Snapshot:
        """The public snapshot: public notices the board can show; others are left out."""
        held = self.store.all()
        shown = [item for item in held if logic.is_public(item.notice) and self._showable(item)]
        fresh = Freshness(
            known=bool(held) or self.synced_at is not None,
            stale=self._stale_now(),
            last_heard=self.last_heard,
            last_updated=max((item.changed_at for item in shown), default=self.synced_at),
        )
        limit = self.settings.closed_limit
        try:
            return Snapshot(shown, fresh, self.renderer, limit)
        except Exception:
            log.exception("snapshot failed; rendering notices one by one to set aside the broken")
        view = View(logic.banner([], known=fresh.known, stale=fresh.stale), fresh)
        good = [item for item in shown if self._renders(item, view)]
        if shown and not good:
            raise RuntimeError("no notice renders on its own: the fault is not in the notices")
        return Snapshot(good, fresh, self.renderer, limit)

    def _showable(self, item: Stored) -> bool:
        """False (warned once per revision) for a notice the board cannot show at all."""
        problem = logic.unshowable(item.notice, self.renderer.zone)
        if problem is None:
            return True
        self._warn_set_aside(item.notice, problem)
        return False

    def _renders(self, item: Stored, view: View) -> bool:
        """The notice renders on its own; warned and False when it does not."""
        problem = self._render_problem(item, view)
        if problem is not None:
            self._warn_set_aside(item.notice, problem)
        return problem is None

    def _render_problem(self, item: Stored, view: View) -> str | None:
        try:
            Snapshot.check(item, view, self.renderer)
        except Exception as exc:
            return f"it does not render ({type(exc).__name__}: {str(exc)[:200]})"
        return None

    def _warn_set_aside(self, notice: Notice, problem: str) -> None:
        key = (notice.id, notice.revision)
        if key not in self._set_aside:
            self._set_aside.add(key)
            log.warning("notice %s rev %d is not shown: %s", notice.id, notice.revision, problem)

    def _stale_now(self) -> bool:
        return logic.is_stale(self.last_heard, self.clock(), self.stale_after)

    # --- ingest bookkeeping -------------------------------------------------------------

    def heard(self) -> None:
        """Kafka answered just now."""
        now = self.clock()
        self.last_heard = now
        if self._heard_saved is None or now - self._heard_saved >= _PERSIST_HEARD_EVERY:
            self.store.write_time(LAST_HEARD, now)
            self._heard_saved = now
        if self._snapshot.stale:
            self.refresh()

    def caught_up(self) -> None:
        """Ingest has read the whole topic once: an empty board now means all clear."""
        if self.synced_at is None:
            self.synced_at = self.clock()
            self.store.write_time(SYNCED_AT, self.synced_at)
            self.refresh()

    def receive(self, event: AnyNoticeEvent) -> bool:
        """Keep a notice read from Kafka if it supersedes the held one; True when it did.

        NoticeUnshowable for a notice the board could never show (the caller dead-letters it).
        """
        problem = logic.unshowable_event(event, self.renderer.zone)
        if problem is not None:
            raise NoticeUnshowable(f"notice {event.notice.id!r}: {problem}")
        return self.store.keep(event)

    def forget(self, notice_id: str) -> bool:
        """Drop a notice (a tombstone on the compacted topic); True when one was held."""
        return self.store.forget(notice_id)

    def relayed(self, row: OutboxRow) -> None:
        """Kafka acknowledged this outbox row."""
        self.store.mark_sent(row.seq, self.clock())
        self.metrics.relayed.inc()

    def set_aside(self, row: OutboxRow, reason: str) -> None:
        """Kafka refused this outbox row for good: keep it aside with why, out of the outbox."""
        self.store.set_aside(row.seq, self.clock(), reason)
        self.metrics.refused.inc()

    # --- admin use cases ------------------------------------------------------------------

    def open_incident(self, body: IncidentCreate) -> Notice:
        """Open an incident (shown at once, relayed to Kafka); NoticeExists if the id is taken."""
        now = self.clock()
        logic.check_status(NoticeKind.INCIDENT, body.status)
        fields = body.model_dump(exclude={"id", "starts_at"})
        notice = Notice(
            id=body.id or _new_id("incident", now),
            kind=NoticeKind.INCIDENT,
            starts_at=body.starts_at or now,
            **fields,
        )
        return self.create(notice)

    def announce_maintenance(self, body: MaintenanceCreate) -> Notice:
        """Announce maintenance, with the status its times give it now."""
        now = self.clock()
        logic.check_times(body.starts_at, body.ends_at)
        notice = Notice(
            id=body.id or _new_id("maintenance", now),
            kind=NoticeKind.MAINTENANCE,
            status=logic.scheduled_status(body.starts_at, body.ends_at, now),
            **body.model_dump(exclude={"id"}),
        )
        return self.create(notice)

    def post_update(self, notice_id: str, body: UpdateCreate) -> Notice:
        """Post a timestamped update; it keeps the current status unless it names one."""
        current = self.current(notice_id)
        update = NoticeUpdate(
            at=body.at or self.clock(), status=body.status or current.status, body=body.body
        )
        return self.change(current, logic.with_update(current, update))

    def revise(self, notice_id: str, body: NoticePatch) -> Notice:
        """Change the fields the patch sets; ChangeRejected when the result breaks a rule."""
        current = self.current(notice_id)
        try:
            revised = logic.revised(current, **body.model_dump(exclude_unset=True))
        except ValidationError as exc:
            raise ChangeRejected(f"invalid change: {exc.errors()[0]['msg']}") from exc
        return self.change(current, revised)

    def resolve(self, notice_id: str, body: ResolveBody) -> Notice:
        """Resolve an incident or complete maintenance, with a closing update."""
        current = self.current(notice_id)
        update = logic.closing_update(current, body.at or self.clock(), body.body)
        return self.change(current, logic.with_update(current, update))

    def notices(self) -> list[Notice]:
        """Every notice held, open and closed, district notices included."""
        return [item.notice for item in self.store.all()]

    def outbox(self) -> OutboxStatus:
        """What the relay still has to publish, what it published and what Kafka refused."""
        pending, sent = self.store.outbox_counts()
        refused = self.store.refused_count()
        return OutboxStatus(pending=pending, sent=sent, refused=refused, last_heard=self.last_heard)

    # --- local changes (admin API, maintenance clock) ------------------------------------

    def current(self, notice_id: str) -> Notice:
        """The notice with this id; NoticeNotFound if none."""
        notice = self.store.get(notice_id)
        if notice is None:
            raise NoticeNotFound(notice_id)
        return notice

    def create(self, notice: Notice) -> Notice:
        """Publish a new notice; NoticeExists if the id is taken."""
        if self.store.get(notice.id) is not None:
            raise NoticeExists(notice.id)
        return self.change(None, notice)

    def change(self, previous: Notice | None, notice: Notice) -> Notice:
        """Check, then store a new revision with its outbox event, show it, wake the relay.

        Every check runs before the store is touched, so a refused change leaves nothing
        stored or queued for Kafka.
        """
        self._check(notice)
        event = logic.event_for(previous, notice).model_copy(update={"occurred_at": self.clock()})
        logic.check_size(event.model_dump_json().encode())
        if not self.write(event):
            raise ChangeRejected(f"notice {notice.id!r} changed meanwhile; read it and retry")
        return notice

    def _check(self, notice: Notice) -> None:
        logic.check_limits(notice)
        problem = logic.unshowable(notice, self.renderer.zone)
        if problem is not None:
            raise ChangeRejected(f"the board cannot show this notice: {problem}")
        if self._render_problem(Stored(notice, self.clock()), self._snapshot.view):
            raise ChangeRejected("the board cannot render this notice; check its text and times")

    def write(self, event: AnyNoticeEvent) -> bool:
        """Write one event locally; False when its revision is already held."""
        if not self.store.write(event):
            return False
        log.info("wrote %s %s rev %d", event.type, event.notice.id, event.notice.revision)
        self.refresh()
        self.outbox_ready.set()
        return True

    def tick(self) -> int:
        """Move maintenance that is due to In Progress or Completed; how many moved."""
        now = self.clock()
        moved = 0
        for item in self.store.all():
            if not self._showable(item):
                continue
            try:
                event = logic.maintenance_due(item.notice, now)
                moved += event is not None and self.write(event)
            except Exception:
                log.exception("maintenance clock could not move %s", item.notice.id)
        return moved


def _new_id(kind: str, now: datetime) -> str:
    return f"{kind}-{now:%Y%m%d}-{uuid4().hex[:6]}"
