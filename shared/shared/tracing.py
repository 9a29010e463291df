"""The request id: taken from HTTP, carried in Kafka headers and mail headers, added to logs."""

import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# The one header name, on HTTP requests and answers, Kafka records and outgoing mail.
HEADER = "X-Request-ID"
KAFKA_HEADER = "x-request-id"
# Callers may pick their own id (a proxy's, a script's); anything else gets a fresh one.
_ACCEPTED = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_id() -> str:
    """A fresh request id (32 hex digits)."""
    return uuid.uuid4().hex


def accepted(value: str | None) -> str | None:
    """The caller's id if it is short and plain (no spaces, quotes or control characters)."""
    if value is None or not _ACCEPTED.fullmatch(value):
        return None
    return value


def current() -> str | None:
    """The request id of the work in progress, if any."""
    return _current.get()


@contextmanager
def bound(request_id: str | None) -> Iterator[None]:
    """Run a block with `request_id` as the current one (None leaves none)."""
    token = _current.set(request_id)
    try:
        yield
    finally:
        _current.reset(token)


def kafka_headers(request_id: str | None = None) -> list[tuple[str, bytes]]:
    """Headers for a Kafka record: the given or current request id, if any."""
    value = request_id or current()
    return [(KAFKA_HEADER, value.encode("ascii"))] if value else []


def from_kafka(headers: Iterable[tuple[str, bytes | str]] | None) -> str | None:
    """The request id in a Kafka record's headers, if it has a plain one."""
    for key, value in headers or ():
        if key.lower() == KAFKA_HEADER:
            text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
            return accepted(text)
    return None


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record logged while one is current."""

    def filter(self, record: logging.LogRecord) -> bool:
        value = _current.get()
        if value is not None and not hasattr(record, "request_id"):
            record.request_id = value
        return True
