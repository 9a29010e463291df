"""The in-memory snapshot: every public body rendered once per change, with its ETag."""

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.events import Notice
from status_board import logic
from status_board.logic import Tab
from status_board.models import NoticePublic
from status_board.render import Freshness, Renderer, View
from status_board.store import Stored

HTML = "text/html; charset=utf-8"
JSON = "application/json"
ATOM = "application/atom+xml; charset=utf-8"


CACHE_CONTROL = "public, max-age=15"
log = logging.getLogger("status_board")
_NOTICE_PREFIXES = (("/notices/", 0), ("/api/notices/", 1))


@dataclass(frozen=True)
class Rendered:
    """A response body, its media type, the strong ETag of its bytes and ready ASGI headers."""

    body: bytes
    media_type: str
    etag: str
    headers: tuple[tuple[bytes, bytes], ...] = field(repr=False)
    etag_bytes: bytes = field(repr=False)
    length: tuple[bytes, bytes] = field(repr=False)  # its content-length header

    @classmethod
    def of(cls, body: bytes, media_type: str) -> "Rendered":
        """Wrap bytes, hashing them for the ETag."""
        etag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
        headers = (
            (b"etag", etag.encode()),
            (b"cache-control", CACHE_CONTROL.encode()),
            (b"content-type", media_type.encode()),
        )
        length = (b"content-length", str(len(body)).encode())
        return cls(body, media_type, etag, headers, etag.encode(), length)


class Snapshot:
    """What the public side serves at one moment; rebuilt whole when anything changes.

    It is given only what may be shown publicly (the board filters out district notices).
    """

    def __init__(self, items: list[Stored], fresh: Freshness, renderer: Renderer, limit: int):
        self.stale = fresh.stale
        self._renderer = renderer
        self._notices = {item.notice.id: item.notice for item in items}
        notices = list(self._notices.values())
        self.view = View(logic.banner(notices, known=fresh.known, stale=fresh.stale), fresh)
        tabs = {tab: logic.on_tab(notices, tab, limit) for tab in Tab}
        self.pages = self._pages(tabs)
        self.lists = self._lists(tabs)
        self.banner = Rendered.of(renderer.banner_json(self.view), JSON)
        shown = {n.id for listed in tabs.values() for n in listed}
        in_feed = [item for item in items if item.notice.id in shown]
        self.feed = Rendered.of(renderer.feed(self.view, in_feed), ATOM)
        self._by_id: dict[str, tuple[Rendered, Rendered]] = {}

    def _pages(self, tabs: dict[Tab, list[Notice]]) -> dict[Tab, Rendered]:
        counts = {tab: len(listed) for tab, listed in tabs.items()}
        return {
            tab: Rendered.of(self._renderer.page(self.view, tab, listed, counts), HTML)
            for tab, listed in tabs.items()
        }

    def _lists(self, tabs: dict[Tab, list[Notice]]) -> dict[str, Rendered]:
        both = [*tabs[Tab.OPEN], *tabs[Tab.CLOSED]]
        bodies = {
            "open": self._renderer.notice_list(self.view, "open", tabs[Tab.OPEN]),
            "closed": self._renderer.notice_list(self.view, "closed", tabs[Tab.CLOSED]),
            "all": self._renderer.notice_list(self.view, "all", both),
        }
        return {state: Rendered.of(body, JSON) for state, body in bodies.items()}

    def at(self, path: str, query: Mapping[str, str]) -> Rendered | None:
        """The body served at a public path, or None (unknown path, notice or state)."""
        if path in ("/", "/notifications"):
            return self.pages[Tab.CLOSED if query.get("tab") == "closed" else Tab.OPEN]
        fixed = {"/feed.atom": self.feed, "/api/banner": self.banner}.get(path)
        if fixed is not None:
            return fixed
        if path == "/api/notices":
            return self.lists.get(query.get("state", "all"))
        for prefix, index in _NOTICE_PREFIXES:
            if path.startswith(prefix):
                found = self.notice(path.removeprefix(prefix))
                return None if found is None else found[index]
        return None

    def notice_ids(self) -> list[str]:
        """The ids of every notice this snapshot shows (its pages answer at /notices/{id})."""
        return list(self._notices)

    def notice(self, notice_id: str) -> tuple[Rendered, Rendered] | None:
        """The HTML page and JSON of one notice, rendered on first ask; None if unknown."""
        cached = self._by_id.get(notice_id)
        if cached is not None:
            return cached
        notice = self._notices.get(notice_id)
        if notice is None:
            return None
        try:
            rendered = self._render_notice(notice)
        except Exception:
            log.exception("notice %s does not render; answering as unknown", notice_id)
            return None
        self._by_id[notice_id] = rendered
        return rendered

    def _render_notice(self, notice: Notice) -> tuple[Rendered, Rendered]:
        page = Rendered.of(self._renderer.notice_page(self.view, notice), HTML)
        return page, Rendered.of(NoticePublic.of(notice).model_dump_json().encode(), JSON)

    @staticmethod
    def check(item: Stored, view: View, renderer: Renderer) -> None:
        """Render one notice as each body shows it (page, JSON, Atom); raises what they raise."""
        renderer.notice_page(view, item.notice)
        NoticePublic.of(item.notice).model_dump_json()
        renderer.feed(view, [item])

    def not_found(self, message: str) -> bytes:
        """The HTML 404 page, with the current banner."""
        return self._renderer.not_found(self.view, message)
