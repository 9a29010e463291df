"""Routing's exceptions under one root; api.py maps them to problem details by `status`."""

from typing import ClassVar


class RoutingError(Exception):
    """Root of the errors routing raises on purpose; `status` is the HTTP status it answers
    with when it reaches the staff API (500 for those that never should)."""

    status: ClassVar[int] = 500


class NotFound(RoutingError):
    """The department, case or command does not exist."""

    status: ClassVar[int] = 404


class Forbidden(RoutingError):
    """The caller may not do this."""

    status: ClassVar[int] = 403


class Invalid(RoutingError):
    """A field of the request breaks a rule."""

    status: ClassVar[int] = 422


class Refused(RoutingError):
    """A command the workflow rejects; the message says why and what would work."""

    status: ClassVar[int] = 409


class MoveRefused(Refused):
    """The workflow does not allow this status change from the case's current status."""


class OtherDepartment(Refused):
    """The acting staff member works in another department than the case is routed to."""

    status: ClassVar[int] = 403


class CaseClosed(Refused):
    """The case is Closed, and this needs an open case."""


class SameDepartment(Refused):
    """A transfer to the department the case is already routed to."""


class TextRequired(Refused):
    """The target status needs a text (note, issue number, release name) that is missing."""

    status: ClassVar[int] = 422


class AssigneeRefused(Refused):
    """The named assignee is not an active staff member of the case's department."""

    status: ClassVar[int] = 422


class PriorityRefused(Refused):
    """Critical asked for on a case that is not Report an Outage."""

    status: ClassVar[int] = 422


class Stale(RoutingError):
    """A timer command whose moment has passed (the case moved on); dropped silently."""


class NoRoute(RoutingError):
    """The routing table has no rule for a case type; the table file needs one."""


class AlreadyStored(RoutingError):
    """A document written as new already existed: its state must be read, not assumed."""
