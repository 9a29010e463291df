"""The message contract matches its committed snapshot: renaming a field fails here."""

import json
import os
from pathlib import Path

from shared.contract import contract_document, contract_json

SNAPSHOT = Path(__file__).with_name("contract_snapshot.json")


def test_contract_matches_snapshot() -> None:
    """Any change to a message, enum, topic or transition shows up as a diff to review."""
    if os.environ.get("UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(contract_json(), encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert contract_document() == expected, (
        "the event contract changed; if the change is additive and intended, "
        "run `UPDATE_SNAPSHOT=1 uv run --frozen pytest "
        "tests/unit/shared/test_contract_snapshot.py`, "
        "then commit tests/unit/shared/contract_snapshot.json"
    )


def test_snapshot_names_every_case_type_form() -> None:
    """Each of the ten case types has its own form in CaseSubmitted."""
    schema = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    defs = schema["messages"]["case_events"]["$defs"]
    forms = {name for name, body in defs.items() if "case_type" in body.get("properties", {})}
    assert len(forms) == 10
