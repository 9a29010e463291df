"""Internal notes by mail: never to a contact; to the assignee or department, not the author."""

from typing import Any

from shared.enums import ActorKind, Department, Visibility
from shared.messages import Actor
from tests.unit.notify.test_outbound import (
    KELLY,
    SCREECH,
    _attachment,
    _case,
    _routed,
    _text,
)


def _note(make: Any, case_id: Any, author: Actor, text: str) -> Any:
    post = make.post(case_id, author, text)
    return post.model_copy(
        update={"visibility": Visibility.INTERNAL, "attachments": [_attachment("dump.sql")]}
    )


def _staff_actor(member: Any) -> Actor:
    return Actor(kind=ActorKind.STAFF, id=member.id, name=member.name)


async def test_an_internal_note_mails_the_assignee_and_no_contact(world: Any, make: Any) -> None:
    """Screech's note on Kelly's case: Kelly is mailed it, marked internal and warned that a
    reply is public; Zack and Ann (recipients) get nothing."""
    case = await _case(world, make, "ann")
    before = {
        who: world.transport.templates(who) for who in ("owner@example.org", "ann@example.org")
    }
    await world.notifier.on_case_event(
        _note(make, case.case_id, _staff_actor(SCREECH), "wombatfig is the culprit")
    )
    for who, templates in before.items():
        assert world.transport.templates(who) == templates
    [mail] = world.transport.to("kelly@campus.example")
    assert mail["X-Support-Template"] == "internal_note"
    assert "internal note" in _text(mail)
    assert "the customer does not see it" in _text(mail)
    assert "wombatfig is the culprit" in _text(mail)
    assert "A reply to this email is a public post" in _text(mail)
    assert world.transport.to("screech@campus.example") == []


async def test_the_assignees_own_note_mails_nobody(world: Any, make: Any) -> None:
    """Kelly's note on her own case: nobody is mailed about their own action."""
    case = await _case(world, make, "ann")
    sent = len(world.transport.sent)
    await world.notifier.on_case_event(_note(make, case.case_id, _staff_actor(KELLY), "note"))
    assert len(world.transport.sent) == sent


async def test_a_note_on_an_unassigned_case_mails_the_department_but_its_author(
    world: Any, make: Any
) -> None:
    """Unassigned in Campus Support, Screech's note reaches Lisa, not Screech, Kelly or Zack."""
    case = await _case(world, make)
    await world.notifier.on_case_event(_routed(case.case_id, Department.CAMPUS_SUPPORT))
    owner = world.transport.templates("owner@example.org")
    await world.notifier.on_case_event(
        _note(make, case.case_id, _staff_actor(SCREECH), "check the logs")
    )
    assert world.transport.templates("lisa@campus.example") == ["internal_note"]
    assert world.transport.to("screech@campus.example") == []
    assert world.transport.to("kelly@campus.example") == []
    assert world.transport.templates("owner@example.org") == owner
