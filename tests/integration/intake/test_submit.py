"""Submitting cases on the real stack: per-type forms, required fields, priority, idempotency."""

import re
import uuid
from typing import Any

import httpx
import pytest

from intake.settings import Settings
from shared.enums import CaseType
from shared.mongo import mongo_client
from tests import seed_facts

# The fields each form requires, from 001 "Case Fields" written out by hand (tests/seed_facts.py).
REQUIRED = [
    (t, name) for t in seed_facts.SEED_CASE_TYPES for name in sorted(seed_facts.required_fields(t))
]


@pytest.mark.parametrize("case_type", [t.value for t in CaseType])
async def test_each_case_type_publishes_one_case_submitted(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any, case_type: str
) -> None:
    """A valid submission of each type answers 201 and puts exactly one CaseSubmitted on Kafka."""
    body = kit.body_for(case_type)
    answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
    assert answer.status_code == 201, answer.text
    case = answer.json()
    events = await kit.case_events(intake_settings, case["case_id"])
    assert [e["type"] for e in events] == ["case.submitted"]
    event = events[0]
    assert event["case_number"] == case["case_number"]
    assert (event["account_id"], event["contact_id"], event["priority"]) == (
        "bayside",
        "zack-morris",
        "Medium",
    )
    sent = {k: v for k, v in body.items() if k not in ("subject", "description")}
    assert {k: event["details"][k] for k in sent} == sent
    assert (event["subject"], event["description"]) == (body["subject"], body["description"])


@pytest.mark.parametrize(("case_type", "field"), REQUIRED)
async def test_missing_required_field_is_named(
    client: httpx.AsyncClient, kit: Any, case_type: str, field: str
) -> None:
    """Leaving out any required field of a case type gives 422 naming that field."""
    body = kit.body_for(case_type)
    body.pop(field, None)
    answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert {"field": field, "rule": "missing"} in [
        {"field": e["field"], "rule": e["rule"]} for e in errors
    ]


@pytest.mark.parametrize(
    "case_type", [t.value for t in CaseType if t is not CaseType.REPORT_AN_OUTAGE]
)
async def test_critical_only_for_outage(
    client: httpx.AsyncClient, kit: Any, case_type: str
) -> None:
    """Critical priority on any type but Report an Outage is refused, naming the rule."""
    body = {**kit.body_for(case_type), "priority": "Critical"}
    answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
    assert answer.status_code == 422
    assert answer.json()["errors"][0] == {
        "field": "priority",
        "rule": "critical_only_for_outage",
        "message": answer.json()["errors"][0]["message"],
    }


async def test_critical_outage_is_accepted(client: httpx.AsyncClient, kit: Any) -> None:
    """A Critical Report an Outage case is accepted."""
    body = {**kit.body_for("Report an Outage"), "priority": "Critical"}
    answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
    assert answer.status_code == 201
    assert answer.json()["priority"] == "Critical"


async def test_unknown_field_is_rejected_by_name(client: httpx.AsyncClient, kit: Any) -> None:
    """An unknown field gives 422 naming it."""
    body = {**kit.body_for("Ask a Question"), "favourite_colour": "blue"}
    answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "favourite_colour"
    assert answer.json()["errors"][0]["rule"] == "extra_forbidden"


async def test_read_only_contact_cannot_submit(client: httpx.AsyncClient, kit: Any) -> None:
    """A Read-Only contact gets 403 saying why."""
    answer = await client.post(
        "/cases", json=kit.body_for("Ask a Question"), headers=kit.auth(kit.SCREECH)
    )
    assert answer.status_code == 403
    assert "Read-Only" in answer.json()["detail"]


async def test_contact_of_two_districts_must_choose(client: httpx.AsyncClient, kit: Any) -> None:
    """A contact of two districts gets 422 on account_id until they name one of theirs."""
    body = kit.body_for("Ask a Question")
    unnamed = await client.post("/cases", json=body, headers=kit.auth(kit.SLATER))
    assert unnamed.status_code == 422
    assert unnamed.json()["errors"][0]["field"] == "account_id"
    assert "several districts" in unnamed.json()["detail"]
    named = await client.post(
        "/cases", json={**body, "account_id": "ridgemont"}, headers=kit.auth(kit.SLATER)
    )
    assert named.status_code == 201
    assert named.json()["account_id"] == "ridgemont"


async def test_account_must_be_one_of_the_callers(client: httpx.AsyncClient, kit: Any) -> None:
    """Naming another district's account is refused."""
    body = {**kit.body_for("Ask a Question"), "account_id": "ridgemont"}
    answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["rule"] == "one_of_your_districts"


async def test_contact_on_behalf_of_colleague(client: httpx.AsyncClient, kit: Any) -> None:
    """A contact may submit for another active contact of the district, not for a read-only one."""
    body = kit.body_for("Ask a Question")
    ok = await client.post(
        "/cases", json={**body, "contact_id": "lisa-turtle"}, headers=kit.auth(kit.ZACK)
    )
    assert ok.status_code == 201
    assert ok.json()["contact_id"] == "lisa-turtle"
    other = await client.post(
        "/cases", json={**body, "contact_id": "jeff-spicoli"}, headers=kit.auth(kit.ZACK)
    )
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "contact_id"


async def test_data_restore_outside_retention_is_refused(
    client: httpx.AsyncClient, kit: Any
) -> None:
    """A loss date older than the 30-day retention is refused, naming the field."""
    body = {**kit.body_for("Data Restore"), "approximate_date_of_loss": "2020-01-01"}
    answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "approximate_date_of_loss"
    assert answer.json()["errors"][0]["rule"] == "within_retention"


async def test_sql_server_access_needs_training(client: httpx.AsyncClient, kit: Any) -> None:
    """SQL Server access without the schema training is refused, naming the field."""
    body = {**kit.body_for("Server Access"), "schema_training_completed": False}
    answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "schema_training_completed"


async def test_due_date_in_the_past_is_refused(client: httpx.AsyncClient, kit: Any) -> None:
    """A due date in the past is refused."""
    body = {**kit.body_for("Ask a Question"), "due_date": "2020-01-01"}
    answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "due_date"


async def test_missing_token_is_401_in_error_shape(client: httpx.AsyncClient, kit: Any) -> None:
    """No bearer token gives 401 with the error shape and WWW-Authenticate."""
    answer = await client.post("/cases", json=kit.body_for("Ask a Question"))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["errors"][0]["field"] == "Authorization"


async def test_case_numbers_are_unique_and_increasing(client: httpx.AsyncClient, kit: Any) -> None:
    """Successive submissions get distinct, increasing case numbers."""
    numbers = [(await kit.submit(client))["case_number"] for _ in range(5)]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 5


async def test_idempotency_key_replays_first_answer(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """A retry with the same key returns the same 201 body and publishes nothing new."""
    headers = {**kit.auth(kit.ZACK), "Idempotency-Key": str(uuid.uuid4())}
    body = {**kit.body_for("Ask a Question"), "subject": f"idem {uuid.uuid4()}"}
    first = await client.post("/cases", json=body, headers=headers)
    second = await client.post("/cases", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    events = await kit.case_events(intake_settings)
    assert [e.get("subject") for e in events].count(body["subject"]) == 1


async def test_idempotency_key_with_other_body_is_422(client: httpx.AsyncClient, kit: Any) -> None:
    """The same key with a different body is refused, saying so."""
    headers = {**kit.auth(kit.ZACK), "Idempotency-Key": str(uuid.uuid4())}
    body = kit.body_for("Ask a Question")
    assert (await client.post("/cases", json=body, headers=headers)).status_code == 201
    other = await client.post("/cases", json={**body, "subject": "changed"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_idempotency_key_is_per_caller(client: httpx.AsyncClient, kit: Any) -> None:
    """Two callers using the same key get two cases."""
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = kit.body_for("Ask a Question")
    zack = await client.post("/cases", json=body, headers={**kit.auth(kit.ZACK), **key})
    lisa = await client.post("/cases", json=body, headers={**kit.auth(kit.LISA), **key})
    assert zack.json()["case_id"] != lisa.json()["case_id"]


async def test_json_body_over_limit_is_413(client: httpx.AsyncClient, kit: Any) -> None:
    """A JSON body over 256 KiB gives 413 with the limit in the message."""
    body = {**kit.body_for("Ask a Question"), "description": "x" * (300 * 1024)}
    answer = await client.post("/cases", json=body, headers=kit.auth(kit.ZACK))
    assert answer.status_code == 413
    assert "262144-byte limit" in answer.json()["detail"]


async def test_retry_after_the_key_record_is_lost_still_makes_one_case(
    client: httpx.AsyncClient, intake_settings: Settings, kit: Any
) -> None:
    """If the first attempt published but never recorded its answer, a retry finds the case."""
    key = str(uuid.uuid4())
    headers = {**kit.auth(kit.ZACK), "Idempotency-Key": key}
    body = {**kit.body_for("Ask a Question"), "subject": f"lost answer {uuid.uuid4()}"}
    first = await client.post("/cases", json=body, headers=headers)
    assert first.status_code == 201
    # The first attempt's process died before storing its answer: its claim is gone.
    mongo = mongo_client(intake_settings)
    keys = mongo[intake_settings.mongo_database]["idempotency_keys"]
    assert (await keys.delete_one({"_id": {"$regex": f"{re.escape(key)}$"}})).deleted_count == 1
    await mongo.close()
    retry = await client.post("/cases", json=body, headers=headers)
    assert retry.status_code == 201
    assert retry.json()["case_id"] == first.json()["case_id"]
    assert retry.json()["case_number"] == first.json()["case_number"]
    events = await kit.case_events(intake_settings)
    assert [e.get("subject") for e in events].count(body["subject"]) == 1
