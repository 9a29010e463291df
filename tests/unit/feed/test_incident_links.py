"""Cases linked to status-board incidents in the feed: wording, the case's links, search, replay."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from feed.logic import change_for, feed_item, feed_page, linked_incidents, readable
from feed.service import Batch
from shared.enums import ActorKind, Priority
from shared.events import (
    AnyCaseEvent,
    CaseSubmitted,
    IncidentLinked,
    LinkedIncidentResolved,
)
from shared.messages import Actor

ZACK = Actor(kind=ActorKind.CONTACT, id="c-zack", name="Zack Morris (TESTING)")
SKY = Actor(kind=ActorKind.STAFF, id="s-sky", name="Sky Walker")
AT = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
CASE = uuid4()
TITLE = "Gradebook down"


def _submitted() -> CaseSubmitted:
    return CaseSubmitted(
        occurred_at=AT,
        case_id=CASE,
        case_number=1000451,
        account_id="a-bayside",
        contact_id=ZACK.id,
        submitted_by=ZACK,
        priority=Priority.HIGH,
        subject="Nobody can sign in",
        description="The sign-in page times out for every teacher.",
        details={"case_type": "Report an Outage"},
    )


def _linked(
    minutes: int, notice_id: str = "gradebook-1", linked: bool = True, title: str = TITLE
) -> IncidentLinked:
    return IncidentLinked(
        occurred_at=AT + timedelta(minutes=minutes),
        case_id=CASE,
        actor=SKY,
        notice_id=notice_id,
        title=title,
        linked=linked,
    )


def _resolved(
    minutes: int, notice_id: str = "gradebook-1", resolution: str = "Restored at 10:40."
) -> LinkedIncidentResolved:
    return LinkedIncidentResolved(
        occurred_at=AT + timedelta(minutes=minutes),
        case_id=CASE,
        notice_id=notice_id,
        title=TITLE,
        resolution=resolution,
    )


def _fold(events: list[AnyCaseEvent]) -> Batch:
    batch = Batch.over({})
    for event in events:
        batch.fold(event, None)
    return batch


def test_a_link_and_an_unlink_read_as_the_staff_members_update() -> None:
    """Linking and unlinking are public activity naming the staff member and the incident."""
    link, unlink = feed_item(_linked(5), {}), feed_item(_linked(9, linked=False), {})
    assert link is not None
    assert unlink is not None
    assert link["headline"] == "Sky Walker (Support) updated this record."
    assert link["lines"] == ["Linked to the status-board incident “Gradebook down”"]
    assert unlink["lines"] == ["Unlinked from the status-board incident “Gradebook down”"]
    assert link["role"] == "Support"
    assert link["actor"] == {"kind": "staff", "id": "s-sky", "name": "Sky Walker"}
    assert readable([link, unlink], staff=False) == [link, unlink]


def test_a_resolution_is_a_public_system_entry_with_the_boards_words_as_plain_text() -> None:
    """The resolved incident is told by the Support Portal, its resolution kept as text: markup
    in it stays inert characters, never HTML of the entry."""
    words = "Restored <script>alert(1)</script> & verified."
    item = feed_item(_resolved(30, resolution=words), {})
    assert item is not None
    assert item["headline"] == "The incident “Gradebook down” is resolved."
    assert item["lines"] == ["Resolution: Restored <script>alert(1)</script> & verified."]
    assert item["role"] == "System"
    assert item["actor"]["kind"] == "system"
    assert item["kind"] == "activity"
    assert "body_html" not in item
    assert readable([item], staff=False) == [item]


def test_a_blank_resolution_leaves_only_the_headline() -> None:
    """A board resolution without text still says the incident is resolved, with no line."""
    item = feed_item(_resolved(30, resolution="  "), {})
    assert item is not None
    assert item["lines"] == []


def test_the_entries_are_searchable_and_ordered_with_the_rest_of_the_feed() -> None:
    """Feed search finds the incident's title and the resolution's words; the entries sort by
    their time among the case's other entries."""
    batch = _fold([_submitted(), _linked(5), _resolved(30)])
    items = [item for _, item in batch.items]
    total, found = feed_page(items, "RESTORED at", newest_first=True, skip=0, limit=20)
    assert (total, [i["event_type"] for i in found]) == (1, ["case.linked_incident_resolved"])
    total, found = feed_page(items, "gradebook down", newest_first=False, skip=0, limit=20)
    assert [i["event_type"] for i in found] == [
        "case.incident_linked",
        "case.linked_incident_resolved",
    ]
    _, newest = feed_page(items, None, newest_first=True, skip=0, limit=20)
    assert [i["event_type"] for i in newest] == [
        "case.linked_incident_resolved",
        "case.incident_linked",
        "case.submitted",
    ]


def test_the_case_lists_its_current_links_with_their_resolution() -> None:
    """Two incidents linked, one resolved, the other unlinked: the case lists the resolved one."""
    other = "sis-slow.2"
    batch = _fold(
        [
            _submitted(),
            _linked(5),
            _linked(6, other, title="SIS slow"),
            _resolved(30),
            _linked(40, other, linked=False),
        ]
    )
    case = batch.states[str(CASE)]
    assert linked_incidents(case["incident_links"]) == [
        {
            "notice_id": "gradebook-1",
            "title": TITLE,
            "linked_at": AT + timedelta(minutes=5),
            "resolved_at": AT + timedelta(minutes=30),
            "resolved": True,
        }
    ]


def test_an_unlinked_incident_linked_again_starts_unresolved() -> None:
    """Unlinked after its resolution and linked again, an incident is listed as not resolved."""
    batch = _fold([_submitted(), _linked(5), _resolved(30), _linked(31, linked=False), _linked(50)])
    [link] = linked_incidents(batch.states[str(CASE)]["incident_links"])
    assert (link["resolved"], link["linked_at"]) == (False, AT + timedelta(minutes=50))


def test_a_resolution_without_a_link_in_the_history_is_still_listed() -> None:
    """A resolution whose link the feed never saw lists the incident as resolved."""
    batch = _fold([_submitted(), _resolved(30)])
    [link] = linked_incidents(batch.states[str(CASE)]["incident_links"])
    assert link["resolved"] is True


def test_a_redelivered_link_is_logged_once() -> None:
    """The same IncidentLinked twice (one event id) adds one entry to the case's links."""
    link = _linked(5)
    case = _fold([_submitted(), link, link]).states[str(CASE)]
    assert [e["event_id"] for e in case["incident_links"]] == [str(link.event_id)]
    assert case["applied"].count(str(link.event_id)) == 1


def test_links_mark_the_case_modified_and_the_mongo_update_appends_the_same_entry() -> None:
    """A link sets Last Modified (by the staff member), a resolution Last Modified only; the
    Mongo update appends the very entry the in-memory fold does."""
    before = _fold([_submitted()]).states[str(CASE)]
    link, resolved = _linked(5), _resolved(30)
    after_link = change_for(link).apply(before, str(CASE), str(link.event_id))
    assert after_link["last_modified"] == link.occurred_at
    assert after_link["last_modified_by"] == "Sky Walker"
    after = change_for(resolved).apply(after_link, str(CASE), str(resolved.event_id))
    assert after["last_modified"] == resolved.occurred_at
    assert after["last_modified_by"] == "Sky Walker"
    update = change_for(resolved).update(str(resolved.event_id))
    assert update["$addToSet"] == {"incident_links": after["incident_links"][-1]}
    assert update["$max"] == {"last_modified": resolved.occurred_at}
    assert "$set" not in update
