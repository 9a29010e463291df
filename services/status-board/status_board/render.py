"""Rendering: Jinja2 pages (autoescaped), times in the portal's zone, JSON and Atom bodies."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape

from shared.events import Notice
from status_board import atom
from status_board.logic import Banner, Tab, xml_text
from status_board.models import BannerCounts, BannerPublic, NoticeList, NoticePublic
from status_board.settings import Settings
from status_board.store import Stored


@dataclass(frozen=True)
class Freshness:
    """How current the board is: whether anything was ever received and when Kafka was heard."""

    known: bool
    stale: bool
    last_heard: datetime | None
    last_updated: datetime | None


@dataclass(frozen=True)
class View:
    """What every page shows besides its notices: the banner and how fresh the data is."""

    banner: Banner
    fresh: Freshness


class Renderer:
    """Turns notices into the bytes the public side serves."""

    def __init__(self, settings: Settings) -> None:
        self.zone = ZoneInfo(settings.time_zone)
        self.public_url = settings.public_url.rstrip("/")
        self.env = Environment(
            loader=PackageLoader("status_board", "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            finalize=printable,
        )
        self.env.filters.update(when=self.when, paragraphs=paragraphs, iso=iso)
        self.env.globals.update(portal_url=settings.portal_url, delay_text=self.delay_text)

    def when(self, at: datetime | None) -> str:
        """`Jul 30, 2024, 01:27 PM CDT`: the portal's zone, with the zone shown."""
        if at is None:
            return ""
        return at.astimezone(self.zone).strftime("%b %d, %Y, %I:%M %p %Z")

    def delay_text(self, fresh: Freshness) -> str | None:
        """The notice shown while live updates are late, or None when they are live."""
        if not fresh.stale:
            return None
        if fresh.last_heard is None:
            return "Live updates unavailable: this board has not reached the event stream yet"
        return f"Live updates delayed since {self.when(fresh.last_heard)}"

    def page(self, view: View, tab: Tab, notices: list[Notice], counts: dict[Tab, int]) -> bytes:
        """The notifications page with one tab selected."""
        return self._html("notifications.html", view, tab=tab, notices=notices, counts=counts)

    def notice_page(self, view: View, notice: Notice) -> bytes:
        """The page of one notice."""
        return self._html("notice.html", view, notice=notice)

    def not_found(self, view: View, message: str) -> bytes:
        """The HTML 404 page."""
        return self._html("not_found.html", view, message=message)

    def _html(self, name: str, view: View, **context: object) -> bytes:
        template = self.env.get_template(name)
        text = template.render(banner=view.banner, fresh=view.fresh, **context)
        return text.encode()

    def banner_json(self, view: View) -> bytes:
        """The banner endpoint's body for the portal."""
        return self.banner_model(view).model_dump_json().encode()

    def banner_model(self, view: View) -> BannerPublic:
        """The banner as the portal reads it."""
        banner, fresh = view.banner, view.fresh
        delay = self.delay_text(fresh)
        return BannerPublic(
            colour=banner.colour,
            state=banner.state,
            label=banner.label,
            text=banner.label if delay is None else f"{banner.label}. {delay}.",
            link=f"{self.public_url}/notifications",
            counts=BannerCounts(
                incidents=banner.incidents,
                maintenance=banner.maintenance,
                open=banner.incidents + banner.maintenance,
            ),
            stale=fresh.stale,
            delayed_since=fresh.last_heard if fresh.stale else None,
            last_updated=fresh.last_updated,
        )

    def notice_list(self, view: View, state: str, notices: list[Notice]) -> bytes:
        """The JSON list of one tab (or all notices)."""
        body = NoticeList(
            state=state,
            count=len(notices),
            stale=view.fresh.stale,
            last_updated=view.fresh.last_updated,
            notices=[NoticePublic.of(notice) for notice in notices],
        )
        return body.model_dump_json().encode()

    def feed(self, view: View, items: list[Stored]) -> bytes:
        """The Atom feed, one entry per notification."""
        return atom.feed(items, base_url=self.public_url, updated=view.fresh.last_updated)


def printable(value: object) -> object:
    """What a template prints, without the control characters a held notice may still have."""
    if not isinstance(value, str):
        return value
    cleaned = xml_text(value)
    return Markup(cleaned) if isinstance(value, Markup) else cleaned


def paragraphs(text: str) -> Markup:
    """Plain text as escaped paragraphs: blank lines split paragraphs, newlines break lines."""
    blocks = [block.strip() for block in xml_text(text).replace("\r\n", "\n").split("\n\n")]
    html = (
        Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in b.split("\n")))
        for b in blocks
        if b
    )
    return Markup("\n").join(html)


def iso(at: datetime | None) -> str:
    """Machine-readable time for `<time datetime>`."""
    return "" if at is None else at.isoformat()
