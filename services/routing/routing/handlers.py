"""Routing's input records read as messages: a command, an event routing acts on, or neither."""

import json

from pydantic import ValidationError

from routing.logic import Malformed, broken_fields
from routing.models import CommandEnvelope, SlaCheck
from routing.service import COMMANDS, Message
from shared.commands import CASE_COMMANDS
from shared.events import CaseSubmitted, PostAdded
from shared.messages import decode

HANDLED_EVENTS: dict[str, type[CaseSubmitted | PostAdded]] = {
    "case.submitted": CaseSubmitted,
    "case.post_added": PostAdded,
}


def parse(kind: str, value: bytes) -> Message | None:
    """The message a record of input `kind` holds; None for an event routing does not act on.

    A command whose envelope (id, case, type, actor) reads but whose fields break the contract
    is `Malformed`, to be rejected with the reason. Raises `UnknownMessage` for a command type
    nobody knows, and `ValueError` (`ValidationError` among them) for anything unreadable.
    """
    if kind == COMMANDS:
        if _SLA_CHECK in value:
            check = _sla_check(value)
            if check is not None:
                return check
        try:
            return decode(CASE_COMMANDS, value)
        except ValidationError as exc:
            return _malformed(value, exc)
    data = json.loads(value)
    model = HANDLED_EVENTS.get(data.get("type", "")) if isinstance(data, dict) else None
    return model.model_validate(data) if model else None


_SLA_CHECK = b'"routing.sla_check"'


def _sla_check(value: bytes) -> SlaCheck | None:
    """Routing's own timer command; None when the text only mentions its type."""
    try:
        return SlaCheck.model_validate_json(value)
    except ValidationError:
        return None


def _malformed(value: bytes, exc: ValidationError) -> Malformed:
    """The command with the fields it breaks; `exc` again when not even its envelope reads."""
    try:
        envelope = CommandEnvelope.model_validate_json(value)
    except ValidationError:
        raise exc from None
    reason = broken_fields(exc.errors(), envelope.type)
    return Malformed(envelope.event_id, envelope.case_id, envelope.type, envelope.actor, reason)
