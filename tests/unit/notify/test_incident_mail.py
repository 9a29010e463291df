"""Linked incidents in notify: a resolution mails each recipient once; a link mails nobody."""

from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

from faststream.kafka import KafkaBroker

from shared.events import IncidentLinked, LinkedIncidentResolved

TITLE = "Gradebook down"


async def _publish(broker: KafkaBroker, topics: Any, *events: Any) -> None:
    for event in events:
        await broker.publish(event.model_dump(mode="json"), topics.case_events)


def _case(world: Any, make: Any) -> Any:
    world.book.add(make.contact("owner"), make.contact("ann"))
    return make.submitted("owner")


def _linked(case: Any, make: Any, linked: bool = True) -> IncidentLinked:
    return IncidentLinked(
        case_id=case.case_id,
        occurred_at=make.now,
        actor=make.staff,
        notice_id="gradebook-1",
        title=TITLE,
        linked=linked,
    )


def _resolved(case: Any, make: Any, words: str = "Restored at 10:40.") -> LinkedIncidentResolved:
    return LinkedIncidentResolved(
        case_id=case.case_id,
        occurred_at=make.now,
        notice_id="gradebook-1",
        title=TITLE,
        resolution=words,
    )


def _text(mail: Any) -> str:
    return str(mail.get_body(("plain",)).get_content())


def _html(mail: Any) -> str:
    return str(mail.get_body(("html",)).get_content())


async def test_a_resolution_mails_each_recipient_once_threaded_with_the_case_link(
    notify_broker: KafkaBroker, world: Any, make: Any, topics: Any
) -> None:
    """Owner and added recipient each get one mail naming the incident and its resolution,
    under the case's subject tag and thread, linking the case page."""
    case = _case(world, make)
    added = make.recipients(case.case_id, ["owner", "ann"], ["ann"], [])
    await _publish(notify_broker, topics, case, added, _resolved(case, make))
    for who in ("owner", "ann"):
        assert world.transport.templates(f"{who}@example.org")[-1] == "linked_incident_resolved"
        assert (
            world.transport.templates(f"{who}@example.org").count("linked_incident_resolved") == 1
        )
    mail = world.transport.to("ann@example.org")[-1]
    wire = message_from_bytes(mail.as_bytes(), policy=default_policy)  # as a reader decodes it
    subject = '[Case 1227963] Snow Day - The incident "Gradebook down" is resolved'
    assert str(wire["Subject"]) == subject
    assert mail["In-Reply-To"] == world.cases.views[case.case_id].root_message_id
    text = _text(mail)
    assert "The incident “Gradebook down” on the Support Portal status board is resolved." in text
    assert "Resolution: Restored at 10:40." in text
    assert "http://127.0.0.1:8000/cases/1227963" in text
    assert "Restored at 10:40." in _html(mail)


async def test_a_redelivered_resolution_mails_once(
    notify_broker: KafkaBroker, world: Any, make: Any, topics: Any
) -> None:
    """The same LinkedIncidentResolved delivered twice sends the owner one mail."""
    case = _case(world, make)
    resolved = _resolved(case, make)
    await _publish(notify_broker, topics, case, resolved, resolved)
    assert world.transport.templates("owner@example.org") == [
        "case_received",
        "linked_incident_resolved",
    ]


async def test_linking_and_unlinking_mail_nobody(
    notify_broker: KafkaBroker, world: Any, make: Any, topics: Any
) -> None:
    """A link and an unlink by staff send no mail; the case's view still takes them."""
    case = _case(world, make)
    link, unlink = _linked(case, make), _linked(case, make, linked=False)
    await _publish(notify_broker, topics, case, link, unlink)
    assert world.transport.templates("owner@example.org") == ["case_received"]
    assert str(unlink.event_id) in world.cases.views[case.case_id].applied


async def test_the_resolution_is_escaped_in_html_and_kept_from_a_bare_address(
    notify_broker: KafkaBroker, world: Any, make: Any, topics: Any
) -> None:
    """Markup in the board's words is escaped in the HTML part; a recipient who is a bare
    address (who may not read the case) gets the link instead of the words."""
    case = _case(world, make)
    added = make.recipients(case.case_id, ["owner", "x@outside.example"], ["x@outside.example"], [])
    words = "Restored <script>alert(1)</script> by the vendor."
    await _publish(notify_broker, topics, case, added, _resolved(case, make, words))
    owner_mail = world.transport.to("owner@example.org")[-1]
    assert "<script>" not in _html(owner_mail)
    assert "Restored &lt;script&gt;alert(1)&lt;/script&gt; by the vendor." in _html(owner_mail)
    assert words in _text(owner_mail)
    outside = world.transport.to("x@outside.example")[-1]
    assert outside["X-Support-Template"] == "linked_incident_resolved"
    assert "by the vendor" not in _text(outside) + _html(outside)
    assert "Read the resolution in the Support Portal: http://127.0.0.1:8000/cases/1227963" in (
        _text(outside)
    )


async def test_a_resolution_without_words_says_only_that_it_is_resolved(
    notify_broker: KafkaBroker, world: Any, make: Any, topics: Any
) -> None:
    """A blank resolution still mails the news, with no empty "Resolution:" line."""
    case = _case(world, make)
    await _publish(notify_broker, topics, case, _resolved(case, make, "  "))
    mail = world.transport.to("owner@example.org")[-1]
    assert "is resolved" in _text(mail)
    assert "Resolution:" not in _text(mail)
    assert "Read the resolution" not in _text(mail)
