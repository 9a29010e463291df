"""The Atom feed (RFC 4287), built with xml.etree: one entry per notification."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from uuid import NAMESPACE_URL, uuid5

from shared.enums import NoticeKind
from shared.events import Notice
from status_board.logic import stamp, xml_text
from status_board.store import Stored

ATOM_NS = "http://www.w3.org/2005/Atom"
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def feed(items: list[Stored], *, base_url: str, updated: datetime | None) -> bytes:
    """The feed document as UTF-8 XML."""
    root = ET.Element("feed", xmlns=ATOM_NS)
    _text(root, "id", _urn(f"{base_url}/feed.atom"))
    _text(root, "title", "Support Portal notifications")
    _text(root, "updated", stamp(updated or _EPOCH))
    _element(root, "link", rel="self", href=f"{base_url}/feed.atom")
    _element(root, "link", rel="alternate", type="text/html", href=f"{base_url}/notifications")
    author = ET.SubElement(root, "author")
    _text(author, "name", "Support Portal")
    for item in items:
        _entry(root, item, base_url)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _entry(root: ET.Element, item: Stored, base_url: str) -> None:
    notice = item.notice
    link = f"{base_url}/notices/{notice.id}"
    entry = ET.SubElement(root, "entry")
    _text(entry, "id", _urn(link))
    _text(entry, "title", f"{_kind(notice)}: {notice.title} ({notice.status})")
    _text(entry, "updated", stamp(item.changed_at))
    _element(entry, "link", rel="alternate", type="text/html", href=link)
    _element(entry, "category", term=notice.kind.value, label=_kind(notice))
    _text(entry, "content", _content(notice)).set("type", "text")


def _content(notice: Notice) -> str:
    ends = f" - {stamp(notice.ends_at)}" if notice.ends_at else ""
    lines = [f"{stamp(notice.starts_at)}{ends} {notice.status}"]
    lines += [
        f"{stamp(update.at)} {update.status} UPDATE: {update.body}" for update in notice.updates
    ]
    return "\n\n".join([*lines, notice.body])


def _kind(notice: Notice) -> str:
    return "Incident" if notice.kind is NoticeKind.INCIDENT else "Maintenance"


# Every text and attribute goes through xml_text: a held notice may carry characters XML 1.0
# cannot hold (written before the admin API refused them, or received from Kafka), and one
# would make the whole feed unreadable.
def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = xml_text(text)
    return element


def _element(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    return ET.SubElement(parent, tag, {name: xml_text(v) for name, v in attributes.items()})


def _urn(url: str) -> str:
    return f"urn:uuid:{uuid5(NAMESPACE_URL, url)}"
