"""Routing on the real stack: queues per case type, transitions, order, timers and reopen."""

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from routing.clock import FixedClock
from routing.logic import AUTO_CLOSE_NOTE
from routing.settings import Settings
from shared.commands import AssignCase, ChangeStatus, CloseCase, ReopenCase
from shared.directory import directory_key
from shared.enums import ActorKind, CaseType, Department, Status
from shared.events import Account, AccountUpserted, CaseSubmitted
from shared.messages import Actor, StaffRef
from tests import seed_facts

STAFF = Actor(kind=ActorKind.STAFF, id="s-1", name="Kelly Kapowski")
CONTACT = Actor(kind=ActorKind.CONTACT, id="c-1", name="Zack Morris")
KELLY = StaffRef(id="s-1", name="Kelly Kapowski")
FRIDAY = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # Friday 10:00 in Chicago
EXPECTED = {
    CaseType.ASK_A_QUESTION: Department.CAMPUS_SUPPORT,
    CaseType.APPLICATION_ISSUE: Department.CAMPUS_SUPPORT,
    CaseType.DATA_RESTORE: Department.HOSTING,
    CaseType.MODIFY_SUPPORT_CONTACTS: Department.ACCOUNT_MANAGEMENT,
    CaseType.REPORT_AN_OUTAGE: Department.HOSTING,
    CaseType.SERVER_ISSUE: Department.HOSTING,
    CaseType.SERVER_ACCESS: Department.HOSTING,
    CaseType.REQUEST_TRAINING: Department.TRAINING,
    CaseType.REQUEST_CONSULTING: Department.BUSINESS_CONSULTING,
    CaseType.REQUEST_TECHNICAL_SERVICES: Department.TECHNICAL_SERVICES,
}


async def _assigned_case(bus: Any, new_case: Callable[..., CaseSubmitted]) -> UUID:
    case = new_case()
    await bus.submit(case)
    await bus.wait_for(case.case_id, "work.queued")
    await bus.command(AssignCase(case_id=case.case_id, actor=STAFF, assignee=KELLY))
    await bus.wait_for(case.case_id, "case.assigned")
    return case.case_id


async def test_each_case_type_lands_on_its_department_queue(
    bus: Any, new_case: Callable[..., CaseSubmitted], routing_settings: Settings
) -> None:
    """Each of the ten case types is routed and queued on its department's queue topic."""
    cases = {case_type: new_case(case_type) for case_type in CaseType}
    for case in cases.values():
        await bus.submit(case)
    for case_type, case in cases.items():
        routed = await bus.wait_for(case.case_id, "case.routed")
        await bus.wait_for(case.case_id, "work.queued")
        assert routed[0]["department"] == EXPECTED[case_type].value
        queue = routing_settings.topics.queue(EXPECTED[case_type])
        assert bus.topics_of(case.case_id, "work.queued") == [queue]


async def test_allowed_transition_applies_and_disallowed_is_rejected(
    bus: Any, new_case: Callable[..., CaseSubmitted], clock: FixedClock
) -> None:
    """Escalation with an issue number applies; Assigned to Available in Release is refused."""
    clock.set(FRIDAY)
    case_id = await _assigned_case(bus, new_case)
    refused = ChangeStatus(
        case_id=case_id,
        actor=STAFF,
        to_status=Status.AVAILABLE_IN_RELEASE,
        note="n",
        release_name="2547",
    )
    escalate = ChangeStatus(
        case_id=case_id,
        actor=STAFF,
        to_status=Status.ASSIGNED_TO_DEVELOPMENT,
        note="escalated to development",
        development_issue="DEV-4711",
    )
    await bus.command(refused)
    await bus.command(escalate)
    rejected = await bus.wait_for(case_id, "case.command_rejected")
    changes = await bus.wait_for(case_id, "case.status_changed", count=2)
    assert rejected[0]["command_id"] == str(refused.event_id)
    assert "cannot move a case from Assigned to Available in Release" in rejected[0]["reason"]
    assert changes[-1]["to_status"] == Status.ASSIGNED_TO_DEVELOPMENT.value
    assert changes[-1]["development_issue"] == "DEV-4711"
    updates = bus.of_case(case_id, "work.updated")
    assert updates[-1]["item"]["status"] == Status.ASSIGNED_TO_DEVELOPMENT.value


async def test_concurrent_commands_for_one_case_apply_in_partition_order(
    bus: Any, new_case: Callable[..., CaseSubmitted], routing_settings: Settings, clock: FixedClock
) -> None:
    """Commands sent at once by several producers are decided one by one in topic order."""
    clock.set(FRIDAY)
    case_id = await _assigned_case(bus, new_case)
    producers = [
        AIOKafkaProducer(bootstrap_servers=routing_settings.kafka_bootstrap_servers, acks="all")
        for _ in range(4)
    ]
    await asyncio.gather(*(p.start() for p in producers))
    targets = [Status.PENDING_CUSTOMER_INPUT, Status.ASSIGNED, Status.SCHEDULED] * 10
    commands = [
        ChangeStatus(case_id=case_id, actor=STAFF, to_status=t, note="what we need")
        for t in targets
    ]
    topic = routing_settings.topics.case_commands
    sends = [
        producers[i % 4].send_and_wait(
            topic, c.model_dump_json().encode(), key=str(case_id).encode()
        )
        for i, c in enumerate(commands)
    ]
    await asyncio.gather(*sends)
    await asyncio.gather(*(p.stop() for p in producers))
    await bus.wait(
        lambda: len(_outcomes(bus, case_id)) >= len(commands), what="an outcome per command"
    )
    in_topic_order = [c["event_id"] for c in bus.of_case(case_id, "case.change_status")]
    outcomes = _outcomes(bus, case_id)
    assert [o["command_id"] for o in outcomes] == in_topic_order
    _assert_replays_sequentially(bus, case_id, outcomes)


def _outcomes(bus: Any, case_id: UUID) -> list[dict[str, Any]]:
    """StatusChanged or CommandRejected caused by the case's ChangeStatus commands, in order."""
    ids = {c["event_id"] for c in bus.of_case(case_id, "case.change_status")}
    kinds = ("case.status_changed", "case.command_rejected")
    return [v for v in bus.of_case(case_id) if v["type"] in kinds and v.get("command_id") in ids]


def _assert_replays_sequentially(bus: Any, case_id: UUID, outcomes: list[dict[str, Any]]) -> None:
    status = Status.ASSIGNED
    by_id = {
        c["event_id"]: Status(c["to_status"]) for c in bus.of_case(case_id, "case.change_status")
    }
    for outcome in outcomes:
        target = by_id[outcome["command_id"]]
        allowed = (status, target, ActorKind.STAFF) in seed_facts.ALLOWED_MOVES
        assert (outcome["type"] == "case.status_changed") is allowed, (status, target)
        if allowed:
            assert outcome["from_status"] == status.value
            status = target


async def test_auto_close_fires_on_the_tenth_business_day_not_a_day_earlier(
    bus: Any, new_case: Callable[..., CaseSubmitted], clock: FixedClock, routing_app: FastAPI
) -> None:
    """Resolved Fri 2026-11-20: reminded, open all Sunday 12-06, closed at 12-07 00:00 CST."""
    clock.set(FRIDAY)
    case_id = await _assigned_case(bus, new_case)
    resolve = ChangeStatus(
        case_id=case_id, actor=STAFF, to_status=Status.PENDING_CUSTOMER_VERIFICATION, note="fixed"
    )
    await bus.command(resolve)
    await bus.wait_for(case_id, "case.status_changed", count=2)
    timers = routing_app.state.timers
    sunday_night = datetime(2026, 12, 7, 5, 59, 59, tzinfo=UTC)  # 23:59:59 CST on Sunday
    clock.set(sunday_night)
    await timers.run_due(sunday_night)
    followed = await bus.wait_for(case_id, "case.followed_up")
    assert followed[0]["closes_on"] == "2026-12-07"
    await _barrier(bus, case_id)
    assert bus.of_case(case_id, "case.close") == []
    assert bus.of_case(case_id, "case.status_changed")[-1]["to_status"] == resolve.to_status.value
    monday = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # 00:00 CST on Monday
    clock.set(monday)
    await timers.run_due(monday)
    changes = await bus.wait_for(case_id, "case.status_changed", count=3)
    closed = changes[-1]
    assert (closed["to_status"], closed["actor"]["kind"]) == (Status.CLOSED.value, "system")
    assert closed["note"] == AUTO_CLOSE_NOTE
    assert closed["occurred_at"].startswith("2026-12-07T06:00")


async def _barrier(bus: Any, case_id: UUID) -> None:
    """A command that is always rejected: once decided, everything before it was decided."""
    marker = ReopenCase(case_id=case_id, actor=STAFF, details="barrier")
    await bus.command(marker)
    await bus.wait(
        lambda: any(
            v.get("command_id") == str(marker.event_id)
            for v in bus.of_case(case_id, "case.command_rejected")
        ),
        what="the barrier's rejection",
    )


async def test_contact_reopens_on_day_60_and_not_on_day_61(
    bus: Any, new_case: Callable[..., CaseSubmitted], clock: FixedClock
) -> None:
    """A case closed on 2026-11-20 reopens on 2027-01-19 (day 60) and not on 2027-01-20."""
    clock.set(FRIDAY)
    day60, day61 = new_case(), new_case()
    for case in (day60, day61):
        await bus.submit(case)
        await bus.command(CloseCase(case_id=case.case_id, actor=CONTACT, note="solved"))
        await bus.wait_for(case.case_id, "case.status_changed")
    clock.set(FRIDAY + timedelta(days=60))
    await bus.command(ReopenCase(case_id=day60.case_id, actor=CONTACT, details="it broke again"))
    reopened = await bus.wait_for(day60.case_id, "case.status_changed", count=2)
    assert reopened[-1]["to_status"] == Status.RE_OPENED.value
    clock.set(FRIDAY + timedelta(days=61))
    await bus.command(ReopenCase(case_id=day61.case_id, actor=CONTACT, details="it broke again"))
    rejected = await bus.wait_for(day61.case_id, "case.command_rejected")
    assert "within 60 days" in rejected[0]["reason"]


async def test_timers_count_business_days_in_the_districts_time_zone(
    bus: Any,
    new_case: Callable[..., CaseSubmitted],
    clock: FixedClock,
    routing_app: FastAPI,
    routing_settings: Settings,
) -> None:
    """Resolved Thu 23:30 Chicago = Fri in Berlin: a Berlin district's case closes on 12-07."""
    account = Account(id="a-berlin", name="Berlin International School", time_zone="Europe/Berlin")
    upsert = AccountUpserted(account=account)
    await bus.send(routing_settings.topics.directory, upsert, directory_key(upsert))
    directory = routing_app.state.directory
    for _ in range(300):
        if await directory.account("a-berlin") is not None:
            break
        await asyncio.sleep(0.1)
    clock.set(datetime(2026, 11, 20, 5, 30, tzinfo=UTC))  # Thu 23:30 in Chicago
    berlin, chicago = new_case(account_id="a-berlin"), new_case()
    for case in (berlin, chicago):
        await bus.submit(case)
        await bus.wait_for(case.case_id, "work.queued")
        await bus.command(AssignCase(case_id=case.case_id, actor=STAFF, assignee=KELLY))
        resolve = ChangeStatus(
            case_id=case.case_id,
            actor=STAFF,
            to_status=Status.PENDING_CUSTOMER_VERIFICATION,
            note="fixed",
        )
        await bus.command(resolve)
        await bus.wait_for(case.case_id, "case.status_changed", count=2)
    cases = routing_app.state.cases
    closes = [(await cases.get(c.case_id)).timers.closes_on for c in (berlin, chicago)]
    assert closes == [date(2026, 12, 7), date(2026, 12, 4)]
