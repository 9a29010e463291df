"""Intake's refusals under one root, and their one mapping to problem details (RFC 9457)."""

from dataclasses import dataclass
from typing import ClassVar

from shared import problems
from shared.problems import ValidationIssue

RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: the field, the rule it broke, and how to fix it."""

    field: str
    rule: str
    message: str


def problem(field: str, rule: str, message: str) -> Problem:
    """Shorthand for a Problem."""
    return Problem(field=field, rule=rule, message=message)


class IntakeError(Exception):
    """Root of intake's refusals; `status` is the HTTP status api.py answers with."""

    status: ClassVar[int] = 400

    def __init__(self, *problems: Problem) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = list(problems)

    @property
    def retry_after(self) -> int | None:
        """Seconds after which a retry may succeed, when the refusal is temporary."""
        return None


class Invalid(IntakeError):
    """The request breaks a rule of the form."""

    status: ClassVar[int] = 422


class Forbidden(IntakeError):
    """The caller may not do this (e.g. a Read-Only contact submitting)."""

    status: ClassVar[int] = 403


class NotFound(IntakeError):
    """No such case for this caller; another district's case looks the same."""

    status: ClassVar[int] = 404


class Conflict(IntakeError):
    """The case's state does not allow this now."""

    status: ClassVar[int] = 409


class TooLarge(IntakeError):
    """A body or a file is over its size limit."""

    status: ClassVar[int] = 413


class RateLimited(IntakeError):
    """Too many requests for this token; retry after `retry_after` seconds."""

    status: ClassVar[int] = 429

    def __init__(self, retry_after: int, *problems: Problem) -> None:
        super().__init__(*problems)
        self._retry_after = retry_after

    @property
    def retry_after(self) -> int:
        """Seconds until the caller's bucket holds a token again."""
        return self._retry_after


class Unavailable(IntakeError):
    """Kafka did not acknowledge; nothing was recorded, retry later."""

    status: ClassVar[int] = 503

    @property
    def retry_after(self) -> int:
        """Kafka outages are retried by clients after a few seconds."""
        return RETRY_AFTER_SECONDS


class InDoubt(Unavailable):
    """Kafka received a send but did not confirm it (e.g. the broker timed out): it may be
    recorded, so nothing it carried (a case number) may be handed out again."""


def problem_of(exc: IntakeError) -> problems.Problem:
    """The problem details of one of intake's refusals; each of its problems is an issue."""
    issues = [ValidationIssue(field=p.field, rule=p.rule, message=p.message) for p in exc.problems]
    detail = "; ".join(issue.message for issue in issues) or exc.__doc__ or "refused"
    in_doubt = isinstance(exc, InDoubt)
    return problems.problem(
        exc.status,
        detail,
        errors=issues,
        code="in-doubt" if in_doubt else None,
        title="Outcome unknown" if in_doubt else None,
    )
