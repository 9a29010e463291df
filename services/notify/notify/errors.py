"""Notify's exceptions: one root; deferrals are transient so the consumer retries them."""

from shared.kafka import Transient


class NotifyError(Exception):
    """Root of every error notify raises on purpose."""


class MailRejected(NotifyError):
    """The SMTP server refused this mail for good (5xx, or 4xx after every retry)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"{code or 'no code'}: {reason}")
        self.code = code
        self.reason = reason


class UnsafeHeader(NotifyError):
    """An address a header (or an SMTP command) cannot carry as it is; no mail is built."""


class ClaimLost(NotifyError):
    """Another sender took over this mail's claim (our lease ended); it sends the mail."""


class AlreadyStored(NotifyError):
    """The mail server already holds this mail (an earlier end of data arrived): not resent."""


class MailDeferred(NotifyError, Transient):
    """The SMTP server cannot be reached now; the event is retried, nothing is committed."""


class RecipientPending(NotifyError, Transient):
    """A recipient of a recent event is not in the directory yet; retry shortly."""


class StoreUnavailable(NotifyError, Transient):
    """Mongo refused a read or write of a batch; the batch is retried, never dead-lettered."""
