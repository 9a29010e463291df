"""The case records of cases whose CaseSubmitted send was in doubt, on the real Mongo server."""

from uuid import uuid4

from fastapi import FastAPI

from intake.store import case_document
from shared.events import CaseSubmitted


def _event() -> CaseSubmitted:
    return CaseSubmitted.model_validate(
        {
            "case_id": uuid4(),
            "case_number": 900_000_000 + uuid4().int % 1_000_000,
            "account_id": "bayside",
            "contact_id": "zack-morris",
            "submitted_by": {"kind": "contact", "id": "zack-morris", "name": "Zack"},
            "priority": "Medium",
            "subject": "in doubt",
            "description": "d",
            "details": {"case_type": "Report an Outage"},
        }
    )


async def test_record_in_doubt_is_hidden_until_its_event_is_consumed(intake_app: FastAPI) -> None:
    """A record kept while its send was in doubt is not a case until the event shows up."""
    cases = intake_app.state.intake.cases
    event = _event()
    await cases.insert(case_document(event, unconfirmed=True))
    assert await cases.get(str(event.case_id)) is None
    assert (await cases.document(str(event.case_id)))["unconfirmed"]["case_number"] == (
        event.case_number
    )
    await cases.ensure(case_document(event))
    state = await cases.get(str(event.case_id))
    assert state is not None
    assert state.account_id == "bayside"
    assert "unconfirmed" not in await cases.collection.find_one({"_id": str(event.case_id)})
