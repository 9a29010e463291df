"""Rules about status notices that more than one service applies."""

from collections.abc import Iterable

from shared.enums import NoticeKind
from shared.events import Notice

__all__ = ["leading_notice"]


def leading_notice(notices: Iterable[Notice]) -> Notice | None:
    """The open notice a banner leads with: an open incident wins over open maintenance.

    Among open notices of the same kind the one that started last leads; with none open, None.
    """
    open_now = [notice for notice in notices if notice.status.is_open]
    return max(open_now, key=lambda n: (n.kind is NoticeKind.INCIDENT, n.starts_at), default=None)
