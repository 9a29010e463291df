"""The whole message contract as one JSON-schema document, for the snapshot test and docs."""

import json
from typing import Any

from pydantic import TypeAdapter

from shared.commands import CASE_COMMANDS
from shared.enums import (
    ActorKind,
    CaseType,
    ContactType,
    Department,
    Module,
    NoticeKind,
    NoticeStatus,
    Priority,
    Status,
)
from shared.events import CASE_EVENTS, DIRECTORY_EVENTS, NOTICE_EVENTS, WORK_ITEM_EVENTS
from shared.topics import Topics
from shared.workflow import TRANSITIONS

ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "case_events": CASE_EVENTS,
    "case_commands": CASE_COMMANDS,
    "work_item_events": WORK_ITEM_EVENTS,
    "directory_events": DIRECTORY_EVENTS,
    "notice_events": NOTICE_EVENTS,
}
ENUMS = (
    ActorKind,
    CaseType,
    ContactType,
    Department,
    Module,
    NoticeKind,
    NoticeStatus,
    Priority,
    Status,
)


def contract_document() -> dict[str, Any]:
    """Schemas of every message, enum values, topic names and the transition table."""
    topics = Topics()
    return {
        "messages": {name: adapter.json_schema() for name, adapter in ADAPTERS.items()},
        "enums": {enum.__name__: [member.value for member in enum] for enum in ENUMS},
        "topics": [spec.name for spec in topics.all_specs()],
        "transitions": {
            current.value: {target.value: sorted(who) for target, who in targets.items()}
            for current, targets in TRANSITIONS.items()
        },
    }


def contract_json() -> str:
    """The contract document as stable, pretty JSON."""
    return json.dumps(contract_document(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(contract_json())
