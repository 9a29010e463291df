"""Internal notes in the feed: stored marked internal, read by staff only, no Last Modified."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from feed import service
from feed.logic import change_for, feed_item, readable
from feed.service import ReadModel
from shared.cases import AskAQuestion
from shared.directory import Principal
from shared.enums import ActorKind, ContactType, Module, Priority, Visibility
from shared.events import AttachmentAdded, CaseSubmitted, PostAdded
from shared.messages import Actor, AttachmentRef

ZACK = Actor(kind=ActorKind.CONTACT, id="zack-morris", name="Zack Morris (TESTING)")
PAT = Actor(kind=ActorKind.STAFF, id="pat-support", name="Pat Support")
WORD = "quokkaberry"
T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
CONTACT = Principal(
    kind=ActorKind.CONTACT,
    id="zack-morris",
    name="Zack Morris (TESTING)",
    email="zack@bayside.example",
    contact_type=ContactType.AUTHORIZED_SUPPORT,
    account_ids=["bayside"],
)
STAFF = Principal(kind=ActorKind.STAFF, id="pat-support", name="Pat", email="pat@v.example")


def submitted() -> CaseSubmitted:
    return CaseSubmitted(
        case_id=uuid4(),
        occurred_at=T0,
        case_number=1000003,
        account_id="bayside",
        contact_id="zack-morris",
        submitted_by=ZACK,
        priority=Priority.MEDIUM,
        subject="Teachers unable to post grades",
        description="The Post button is greyed out.",
        details=AskAQuestion(module=Module.GRADE_BOOK),
    )


def note(case: CaseSubmitted, visibility: Visibility) -> tuple[PostAdded, AttachmentAdded]:
    file = AttachmentRef(
        attachment_id=f"file-{visibility}",
        filename=f"{visibility}.txt",
        content_type="text/plain",
        size=10,
        sha256="",
    )
    post = PostAdded(
        case_id=case.case_id,
        occurred_at=T0 + timedelta(hours=1),
        post_id=uuid4(),
        author=PAT,
        body_html=f"<p>{WORD}</p>",
        body_text=WORD,
        attachments=[file],
        visibility=visibility,
    )
    added = AttachmentAdded(
        case_id=case.case_id,
        occurred_at=post.occurred_at,
        attachment=file,
        post_id=post.post_id,
        author=PAT,
        visibility=visibility,
    )
    return post, added


def test_an_old_post_without_visibility_decodes_as_public() -> None:
    """Events written before internal notes existed read as public posts and files."""
    case = submitted()
    post, added = note(case, Visibility.PUBLIC)
    old_post = post.model_dump(mode="json")
    old_file = added.model_dump(mode="json")
    del old_post["visibility"], old_file["visibility"]
    assert PostAdded.model_validate(old_post).visibility is Visibility.PUBLIC
    assert AttachmentAdded.model_validate(old_file).visibility is Visibility.PUBLIC


def test_an_internal_note_leaves_last_modified_and_marks_its_file() -> None:
    """An internal note changes no Last Modified (by) a contact sees; its file is listed
    marked internal; a public post still updates Last Modified."""
    case = submitted()
    doc = change_for(case).apply(None, str(case.case_id), "1")
    post, added = note(case, Visibility.INTERNAL)
    after = change_for(post).apply(doc, str(case.case_id), "2")
    after = change_for(added).apply(after, str(case.case_id), "3")
    assert (after["last_modified"], after["last_modified_by"]) == (T0, "Zack Morris (TESTING)")
    assert [a.get("visibility") for a in after["attachments"]] == ["internal"]
    public, _ = note(case, Visibility.PUBLIC)
    touched = change_for(public).apply(doc, str(case.case_id), "4")
    assert (touched["last_modified"], touched["last_modified_by"]) == (
        public.occurred_at,
        "Pat Support",
    )


def test_readers_see_internal_items_by_role() -> None:
    """Staff read internal items; a contact reads only the rest."""
    case = submitted()
    internal = feed_item(note(case, Visibility.INTERNAL)[0], {})
    public = feed_item(note(case, Visibility.PUBLIC)[0], {})
    assert internal is not None
    assert public is not None
    assert internal["visibility"] == "internal"
    assert readable([internal, public], staff=True) == [internal, public]
    assert readable([internal, public], staff=False) == [public]


class FakeCases:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    async def by_number(self, number: int) -> dict[str, Any] | None:
        return self.doc if number == self.doc["number"] else None

    async def get(self, case_id: str) -> dict[str, Any] | None:
        return self.doc if case_id == self.doc["_id"] else None


class FakeFeed:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.stored = items

    async def items(self, case_id: str) -> list[dict[str, Any]]:
        return [dict(i) for i in self.stored if i["case_id"] == case_id]


class FakeDirectory:
    async def account(self, account_id: str) -> None:
        return None


def read_model() -> ReadModel:
    """A read model over one case with an internal note (with a file) and a public post."""
    case = submitted()
    doc = change_for(case).apply(None, str(case.case_id), "1")
    items = [feed_item(case, {})]
    for visibility in (Visibility.INTERNAL, Visibility.PUBLIC):
        post, added = note(case, visibility)
        doc = change_for(post).apply(doc, str(case.case_id), str(post.event_id))
        doc = change_for(added).apply(doc, str(case.case_id), str(added.event_id))
        items.append(feed_item(post, doc))
    model: Any = ReadModel(
        cases=FakeCases(doc),  # type: ignore[arg-type]
        feed=FakeFeed([i for i in items if i is not None]),  # type: ignore[arg-type]
        notices=None,  # type: ignore[arg-type]
        directory=FakeDirectory(),  # type: ignore[arg-type]
        districts=None,  # type: ignore[arg-type]
        subjects=None,  # type: ignore[arg-type]
        status_board_url="http://board.example",
    )
    return model  # type: ignore[no-any-return]


async def test_a_contact_reads_no_internal_note_and_staff_read_it_marked() -> None:
    """The contact's case, feed, feed search and attachment list leave the note out; staff
    read it marked internal."""
    model = read_model()
    mine = await service.case_detail(model, CONTACT, "1000003", 20)
    assert mine.feed is not None
    assert [i.visibility for i in mine.feed.items] == ["public", "public"]
    assert [a.visibility for a in mine.attachments] == ["public"]
    searched = await service.case_feed(model, CONTACT, "1000003", 1, 20, "newest", WORD)
    assert searched.total == 1  # the public post has the word too; the note is not counted
    assert all(i.visibility == "public" for i in searched.items)
    staff = await service.case_detail(model, STAFF, "1000003", 20)
    assert staff.feed is not None
    assert sorted(i.visibility for i in staff.feed.items) == ["internal", "public", "public"]
    assert sorted(a.visibility for a in staff.attachments) == ["internal", "public"]
    found = await service.case_feed(model, STAFF, "1000003", 1, 20, "newest", WORD)
    assert found.total == 2
