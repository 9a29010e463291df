"""Pure decisions of the feed: case changes, feed wording, query planning, banner."""

import re
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from feed.logic import (
    EPOCH,
    CaseChange,
    CaseFilter,
    SortKey,
    Subject,
    SubjectOp,
    banner_of,
    change_for,
    contained_needle,
    day_range,
    excluded_needle,
    feed_item,
    feed_page,
    first_window,
    is_lone_contains,
    is_newest_first,
    matching_ids,
    newest_filter,
    newest_first,
    not_containing,
    out_of_order,
    pages,
    plan_among,
    plan_query,
    posting_filter,
    posting_key,
    postings,
    prefix_range,
    rarest_gram,
    subject_clause,
    subject_grams,
    subject_of,
    window_pipeline,
)
from shared.enums import (
    ActorKind,
    CaseType,
    Department,
    Disruption,
    Module,
    NoticeKind,
    NoticeStatus,
    Priority,
    Status,
)
from shared.events import (
    CaseAssigned,
    CaseFollowedUp,
    CaseRouted,
    CaseSubmitted,
    Notice,
    PostAdded,
    PriorityChanged,
    StatusChanged,
    TriageRecorded,
)
from shared.messages import Actor, StaffRef, Triage
from shared.zones import local_time

ZACK = Actor(kind=ActorKind.CONTACT, id="c-zack", name="Zack Morris (TESTING)")
STAFF = Actor(kind=ActorKind.STAFF, id="s-1", name="Richard Belding")
AT = datetime(2021, 9, 15, 18, 37, tzinfo=UTC)


def submitted(case_id=None) -> CaseSubmitted:  # type: ignore[no-untyped-def]
    """A submission by Zack Morris."""
    return CaseSubmitted(
        occurred_at=AT,
        case_id=case_id or uuid4(),
        case_number=1227963,
        account_id="a-bayside",
        contact_id=ZACK.id,
        submitted_by=ZACK,
        priority=Priority.MEDIUM,
        subject="Snow Day",
        description="How do I add a snow day to the calendar?",
        details={"case_type": CaseType.ASK_A_QUESTION, "module": Module.CALENDAR},
    )


def status(case_id, old: Status, new: Status, **extra) -> StatusChanged:  # type: ignore[no-untyped-def]
    """A status change by staff."""
    return StatusChanged(case_id=case_id, from_status=old, to_status=new, actor=STAFF, **extra)


def test_submission_builds_the_case_document() -> None:
    """A submission sets the list fields, lowercased search copies and status New."""
    event = submitted()
    names = {"account_name": "Bayside School (TESTING)", "contact_name": ZACK.name}
    doc = change_for(event, names).apply(None, str(event.case_id), str(event.event_id))
    assert doc["number_s"] == "1227963"
    assert doc["subject_lc"] == "snow day"
    assert "subject_grams" not in doc  # the grams live in `subjects`
    assert doc["module"] == Module.CALENDAR.value
    assert doc["status"] == "New"
    assert doc["contact_lc"] == "zack morris (testing)"
    assert doc["last_modified"] == AT
    assert doc["applied"] == [str(event.event_id)]


def test_late_submission_redelivery_keeps_later_status() -> None:
    """A submission applied again after a status change does not reset the status."""
    event = submitted()
    cid, eid = str(event.case_id), str(event.event_id)
    doc = change_for(event).apply(None, cid, eid)
    moved = status(event.case_id, Status.NEW, Status.ASSIGNED)
    doc = change_for(moved).apply(doc, cid, str(moved.event_id))
    doc = change_for(event).apply(doc, cid, "again")
    assert doc["status"] == "Assigned"


def test_mongo_update_records_the_event_and_keeps_status_on_insert_only() -> None:
    """The update pushes the event id and sets status only when inserting."""
    update = change_for(submitted()).update("e-1")
    assert update["$push"] == {"applied": "e-1"}
    assert update["$setOnInsert"]["status"] == "New"
    assert "status" not in update["$set"]


def test_created_and_routed_wording_matches_the_seed() -> None:
    """The feed says who created the case and that the owner moved to the department."""
    event = submitted()
    created = feed_item(event, None)
    assert created is not None
    assert created["headline"] == "Zack Morris (TESTING) (Customer) created this case."
    doc = change_for(event).apply(None, str(event.case_id), str(event.event_id))
    routed = CaseRouted(
        case_id=event.case_id, department=Department.CAMPUS_SUPPORT, billable=False, queue="q"
    )
    item = feed_item(routed, doc)
    assert item is not None
    assert item["headline"] == "Zack Morris (TESTING) (Customer) updated this record."
    assert item["lines"] == ["Case Owner Zack Morris (TESTING) to Campus Support"]


def test_transfer_wording_names_the_staff_member_departments_and_reason() -> None:
    """A transfer reads as the staff member's update: the new owner queue, from which
    department it moved and why; the case is owned by the new department, last modified by
    the staff member."""
    event = CaseRouted(
        case_id=uuid4(),
        department=Department.HOSTING,
        billable=False,
        queue="hosting",
        actor=STAFF,
        reason="Server down: a hosting matter",
        previous_department=Department.CAMPUS_SUPPORT,
    )
    before = {"owner": {"kind": "staff", "name": "Richard Belding"}}
    item = feed_item(event, before)
    assert item is not None
    assert item["headline"] == f"{STAFF.name} (Support) updated this record."
    assert item["lines"] == [
        "Case Owner Richard Belding to Hosting / Technical Support",
        "Transferred from Campus Support to Hosting / Technical Support: "
        "Server down: a hosting matter",
    ]
    doc = change_for(event).apply(before, str(event.case_id), "e")
    assert doc["owner"] == {
        "kind": "department",
        "name": "Hosting / Technical Support",
        "department": "Hosting / Technical Support",
    }
    assert doc["last_modified_by"] == STAFF.name


def test_a_priority_change_reads_with_its_reason_and_sorts_the_case_anew() -> None:
    """Medium to High reads as the staff member's update with the reason; the case then
    lists as High (and sorts by it); an impact assessment adds nothing the contact sees."""
    case_id = uuid4()
    event = PriorityChanged(
        case_id=case_id,
        actor=STAFF,
        from_priority=Priority.MEDIUM,
        to_priority=Priority.HIGH,
        reason="Every English teacher is blocked.",
    )
    item = feed_item(event, {})
    assert item is not None
    assert item["headline"] == f"{STAFF.name} (Support) updated this record."
    assert item["lines"] == ["Priority Medium to High", "Reason: Every English teacher is blocked."]
    before = {"priority": "Medium", "priority_rank": 2}
    doc = change_for(event).apply(before, str(case_id), "e")
    assert (doc["priority"], doc["priority_rank"], doc["last_modified_by"]) == (
        "High",
        1,
        STAFF.name,
    )
    triage = Triage(
        disruption=Disruption.SIGNIFICANT,
        daily_functions_blocked=True,
        workaround_exists=False,
        several_sites=False,
        several_users=True,
    )
    recorded = TriageRecorded(
        case_id=case_id, actor=STAFF, triage=triage, suggested_priority=Priority.HIGH
    )
    assert feed_item(recorded, {}) is None
    assert change_for(recorded).apply(before, str(case_id), "e") == {**before, "applied": ["e"]}


def test_assignment_names_previous_and_new_owner() -> None:
    """Assigning to staff reads "Case Owner <department> to <staff name>"."""
    event = CaseAssigned(
        case_id=uuid4(),
        department=Department.CAMPUS_SUPPORT,
        assignee=StaffRef(id="s-1", name="Richard Belding"),
        actor=STAFF,
    )
    before = {"owner": {"kind": "department", "name": "Campus Support"}}
    item = feed_item(event, before)
    assert item is not None
    assert item["lines"] == ["Case Owner Campus Support to Richard Belding"]
    doc = change_for(event).apply(before, str(event.case_id), "e")
    assert doc["owner"]["name"] == "Richard Belding"


def test_status_wording_carries_escalation_release_resolution_and_reopen() -> None:
    """Status changes name the development issue, the release, the resolution, reopen details."""
    cid = uuid4()
    dev = status(
        cid,
        Status.ASSIGNED,
        Status.ASSIGNED_TO_DEVELOPMENT,
        development_issue="DEV-7",
        note="Defect",
    )
    rel = status(
        cid, Status.ASSIGNED_TO_DEVELOPMENT, Status.AVAILABLE_IN_RELEASE, release_name="2531"
    )
    fix = status(cid, Status.ASSIGNED, Status.PENDING_CUSTOMER_VERIFICATION, note="Use Days tool")
    reopen = status(cid, Status.CLOSED, Status.RE_OPENED, note="Still broken")
    lines = {e.to_status: feed_item(e, {})["lines"] for e in (dev, rel, fix, reopen)}  # type: ignore[index]
    assert lines[Status.ASSIGNED_TO_DEVELOPMENT] == [
        "Status Assigned to Assigned to Development",
        "Escalated to Development: development issue DEV-7",
        "Escalation note: Defect",
    ]
    assert "Available in Release 2531" in lines[Status.AVAILABLE_IN_RELEASE]
    assert "Resolution: Use Days tool" in lines[Status.PENDING_CUSTOMER_VERIFICATION]
    assert "Reopen details: Still broken" in lines[Status.RE_OPENED]
    doc = change_for(fix).apply({}, str(cid), "e")
    assert doc["resolution"] == "Use Days tool"


def test_closing_sets_closed_and_reopening_clears_it() -> None:
    """Closed cases carry closed_at; a reopen removes it."""
    cid = uuid4()
    closed = change_for(status(cid, Status.ASSIGNED, Status.CLOSED)).apply({}, str(cid), "1")
    assert closed["closed"] is True
    assert "closed_at" in closed
    reopened = change_for(status(cid, Status.CLOSED, Status.RE_OPENED)).apply(closed, str(cid), "2")
    assert reopened["closed"] is False
    assert "closed_at" not in reopened


def test_post_is_a_feed_post_with_searchable_text() -> None:
    """A post keeps its author role, sanitized body and a lowercased search copy."""
    post = PostAdded(
        case_id=uuid4(),
        post_id=uuid4(),
        author=STAFF,
        body_html="<p>Try Again</p>",
        body_text="Try Again",
    )
    item = feed_item(post, {})
    assert item is not None
    assert (item["kind"], item["headline"]) == ("post", "Richard Belding (Support)")
    assert "try again" in item["search_lc"]


def test_follow_up_reminder_names_the_close_date() -> None:
    """The follow-up reminder says when the case closes and how many business days are left."""
    event = CaseFollowedUp(case_id=uuid4(), closes_on=date(2026, 12, 4), business_days_left=3)
    item = feed_item(event, {})
    assert item is not None
    assert "12/04/2026" in item["lines"][0]
    assert "3 business days left" in item["lines"][0]


def test_prefix_becomes_an_index_range() -> None:
    """An anchored prefix is a half-open range the server can walk on an index."""
    assert prefix_range("12") == {"$gte": "12", "$lt": "13"}
    assert prefix_range("grade") == {"$gte": "grade", "$lt": "gradf"}


def test_subject_operators_are_case_insensitive_and_escaped() -> None:
    """Subject operators compare the lowercased copy and escape regex characters."""
    assert subject_clause("Snow Day", SubjectOp.EQUALS) == {"$eq": "snow day"}
    assert subject_clause("a.b*", SubjectOp.CONTAINS) == {"$regex": re.escape("a.b*")}
    assert subject_clause("X)", SubjectOp.ENDS_WITH) == {"$regex": re.escape("x)") + "$"}
    negated = subject_clause("(draft", SubjectOp.NOT_CONTAINS)["$not"]
    assert negated.pattern == re.escape("(draft")


def test_day_range_follows_the_district_time_zone() -> None:
    """A local day is 24 hours of UTC starting at local midnight (CDT is UTC-5)."""
    window = day_range(date(2021, 9, 15), "America/Chicago")
    assert window["$gte"] == datetime(2021, 9, 15, 5, tzinfo=UTC)
    assert window["$lt"] - window["$gte"] == timedelta(hours=24)


def test_contact_query_pins_account_and_one_indexable_clause() -> None:
    """A district query pins account_id and one indexable clause; the rest is residual."""
    flt = CaseFilter(number="112", subject="book", subject_op=SubjectOp.CONTAINS)
    query = plan_query(flt, ["a-1"], SortKey.LAST_MODIFIED, True)
    assert query.indexed == {"account_id": "a-1", "number_s": {"$gte": "112", "$lt": "113"}}
    assert query.residual == {"subject_lc": {"$regex": "book"}}
    assert query.sort == [("last_modified", -1), ("number", -1)]


def test_subject_grams_are_the_distinct_bigrams_and_trigrams() -> None:
    """A subject's grams are its distinct two- and three-character slices, sorted."""
    assert subject_grams("abcab") == ["ab", "abc", "bc", "bca", "ca", "cab"]
    assert subject_grams("ab") == ["ab"]
    assert subject_grams("a") == []
    assert set(subject_grams("straße ä")) >= {"raß", "ße ", "e ä", "ße", " ä"}


def test_rarest_gram_prefers_rare_letters_and_other_characters() -> None:
    """The index lookup uses the needle's trigram of the least frequent characters, the
    bigram of a two-character needle, and none for one character."""
    assert rarest_gram("the quiz") == "uiz"
    assert rarest_gram("case 42") == " 42"
    assert rarest_gram("ab") == "ab"
    assert rarest_gram("a") is None


def test_postings_enter_each_subject_under_each_of_its_grams_per_district() -> None:
    """A subject is entered, with its text, in the posting of each of its grams in its
    district; whatever gram a needle it contains looks up holds it."""
    case = {"_id": "c-1", "account_id": "a-1", "subject_lc": "a quiz.* b", "status": "New"}
    subject = subject_of(case)
    assert subject == Subject("c-1", "a-1", "a quiz.* b")
    other = Subject("c-2", "a-2", "quiz")
    found = postings([subject, other])
    assert found[posting_key("a-1", "uiz")] == ("uiz", "a-1", {"c-1": "a quiz.* b"})
    assert found[posting_key("a-2", "uiz")] == ("uiz", "a-2", {"c-2": "quiz"})
    assert len(found) == len(subject_grams("a quiz.* b")) + len(subject_grams("quiz"))
    for needle in ("quiz.*", "z.", " b", "a q"):
        assert posting_key("a-1", str(rarest_gram(needle))) in found, needle


def test_a_district_posting_is_split_in_buckets_by_the_cases_order_of_arrival() -> None:
    """Cases 0-1 go to bucket 0, 2-3 to bucket 1 (buckets of two): only the newest bucket
    is written as the district grows."""
    subjects = [Subject(f"c-{n}", "a-1", "quiz", ordinal=n) for n in range(5)]
    found = postings(subjects, bucket_size=2)
    buckets = {key: cases for key, (gram, _, cases) in found.items() if gram == "qui"}
    assert buckets == {
        posting_key("a-1", "qui", 0): {"c-0": "quiz", "c-1": "quiz"},
        posting_key("a-1", "qui", 1): {"c-2": "quiz", "c-3": "quiz"},
        posting_key("a-1", "qui", 2): {"c-4": "quiz"},
    }


def test_posting_lookup_is_by_gram_in_the_districts_or_everywhere() -> None:
    """Districts read every bucket of the gram of theirs; staff read the gram's everywhere."""
    assert posting_filter(["a-1", "a-2"], "quiz.*") == {
        "gram": "z.*",
        "account_id": {"$in": ["a-1", "a-2"]},
    }
    assert posting_filter(None, "bo") == {"gram": "bo"}
    assert posting_key("a-1", "bo") != posting_key("a-1b", "o")
    assert posting_key("a-1", "bo", 1) != posting_key("a-1", "bo", 0)


def test_matching_ids_check_the_whole_needle() -> None:
    """A posting only narrows: the needle is checked against each subject, literally."""
    docs = [{"cases": {"c-1": "book ok", "c-2": "ook boo"}}, {"cases": {"c-3": "a.*book"}}, {}]
    assert matching_ids(docs, "book") == ["c-1", "c-3"]
    assert matching_ids(docs, ".*b") == ["c-3"]


def test_a_case_in_two_buckets_of_a_gram_matches_once() -> None:
    """A redelivered submission entered in a newer bucket too is counted once."""
    docs = [{"cases": {"c-1": "book", "c-2": "book"}}, {"cases": {"c-1": "book", "c-9": "x"}}]
    assert matching_ids(docs, "book") == ["c-1", "c-2"]


def test_first_window_doubles_the_page_until_it_is_expected_to_hold_it() -> None:
    """The first window read for a contains page: twice the page, doubled while the share
    of matches says it holds fewer than a page, never past the district."""
    assert first_window(20, 500, 146) == 80
    assert first_window(20, 500, 500) == 40
    assert first_window(20, 500, 0) == 640
    assert first_window(20, 100, 1) == 160


def test_contains_is_looked_up_by_gram_and_read_by_id() -> None:
    """Contains of two characters or more: matching ids from `subjects`, then `cases` by id
    with the other filters; one character keeps the district read."""
    flt = CaseFilter(subject="Quiz.*", subject_op=SubjectOp.CONTAINS, status=Status.NEW)
    assert contained_needle(flt) == "quiz.*"
    assert contained_needle(CaseFilter(subject="Bo", subject_op=SubjectOp.CONTAINS)) == "bo"
    assert contained_needle(CaseFilter(subject="b", subject_op=SubjectOp.CONTAINS)) is None
    assert contained_needle(CaseFilter(subject="book", subject_op=SubjectOp.STARTS_WITH)) is None
    assert not is_lone_contains(flt, SortKey.LAST_MODIFIED, True)
    alone = CaseFilter(subject="Quiz.*", subject_op=SubjectOp.CONTAINS)
    assert is_lone_contains(alone, SortKey.LAST_MODIFIED, True)
    assert not is_lone_contains(alone, SortKey.LAST_MODIFIED, False)
    assert not is_lone_contains(alone, SortKey.SUBJECT, True)
    query = plan_among(flt, ["c-1", "c-2"], SortKey.SUBJECT, False)
    assert query.indexed == {"_id": {"$in": ["c-1", "c-2"]}}
    assert query.residual == {"status": "New"}
    assert query.sort == [("subject_lc", 1), ("number", 1)]


def test_negated_or_one_character_needles_keep_the_regex_read() -> None:
    """ "Does not contain" and one-character needles keep the case read with the regex."""
    short = plan_query(
        CaseFilter(subject="b", subject_op=SubjectOp.CONTAINS), ["a-1"], SortKey.SUBJECT, True
    )
    assert short.indexed == {"account_id": "a-1"}
    assert short.residual == {"subject_lc": {"$regex": "b"}}
    negated = CaseFilter(subject="book", subject_op=SubjectOp.NOT_CONTAINS)
    assert "subject_lc" in plan_query(negated, None, SortKey.SUBJECT, True).residual


def test_change_apply_drops_grams_a_case_was_stored_with() -> None:
    """A case stored with the former trigrams loses them on its next folded write."""
    old = {"_id": "c", "applied": ["e1"], "subject_lc": "snow day", "subject_grams": ["day"]}
    folded = CaseChange(set={"status": "New"}).apply(old, "c", "e2")
    assert "subject_grams" not in folded
    assert folded["subject_lc"] == "snow day"


def test_only_a_lone_not_contains_in_default_order_takes_the_window_read() -> None:
    """Does-not-contain alone, newest first, with a trigram: served as the default list."""
    alone = CaseFilter(subject="Book", subject_op=SubjectOp.NOT_CONTAINS)
    assert excluded_needle(alone, SortKey.LAST_MODIFIED, True) == "book"
    assert excluded_needle(alone, SortKey.LAST_MODIFIED, False) is None
    assert excluded_needle(alone, SortKey.SUBJECT, True) is None
    with_status = CaseFilter(subject="book", subject_op=SubjectOp.NOT_CONTAINS, status=Status.NEW)
    assert excluded_needle(with_status, SortKey.LAST_MODIFIED, True) is None
    two = CaseFilter(subject="Bo", subject_op=SubjectOp.NOT_CONTAINS)
    assert excluded_needle(two, SortKey.LAST_MODIFIED, True) == "bo"
    short = CaseFilter(subject="b", subject_op=SubjectOp.NOT_CONTAINS)
    assert excluded_needle(short, SortKey.LAST_MODIFIED, True) is None
    contains = CaseFilter(subject="book", subject_op=SubjectOp.CONTAINS)
    assert excluded_needle(contains, SortKey.LAST_MODIFIED, True) is None
    assert not_containing("a.b")["subject_lc"]["$not"].pattern == re.escape("a.b")


def test_window_read_keeps_the_negated_regex_out_of_the_index_match() -> None:
    """The window is the first match (an index range); the negated regex a stage after it."""
    since = datetime(2026, 1, 1, tzinfo=UTC)
    stages = window_pipeline("a-1", since, not_containing("x"), 20, {"_id": 1})
    assert stages[0] == {"$match": {"account_id": "a-1", "last_modified": {"$gte": since}}}
    assert stages[1] == {"$match": not_containing("x")}
    assert stages[2:4] == [{"$sort": {"last_modified": -1, "number": -1}}, {"$limit": 20}]


def test_staff_query_without_filters_walks_an_index() -> None:
    """Staff with no indexable filter scan the last-modified index, not the collection."""
    query = plan_query(
        CaseFilter(subject="x", subject_op=SubjectOp.CONTAINS), None, SortKey.SUBJECT, False
    )
    assert query.indexed == {"last_modified": {"$gte": EPOCH}}
    assert query.sort == [("subject_lc", 1), ("number", 1)]


def test_several_districts_use_in_and_keep_filters_residual() -> None:
    """A contact of several districts matches on account_id $in first."""
    query = plan_query(CaseFilter(status=Status.NEW), ["a-1", "a-2"], SortKey.STATUS, True)
    assert query.indexed == {"account_id": {"$in": ["a-1", "a-2"]}}
    assert query.residual == {"status": "New"}


def test_local_time_and_pages() -> None:
    """Times show in the portal's format; pages round up and never drop below one."""
    assert local_time(AT, "America/Chicago") == "09/15/2021 - 01:37 PM CDT"
    assert (pages(81, 20), pages(0, 20), pages(40, 20)) == (5, 1, 2)


def notice(
    kind: NoticeKind, state: NoticeStatus, hours: int, accounts: list[str] | None = None
) -> Notice:
    """A notice starting `hours` after AT."""
    return Notice(
        id=uuid4().hex,
        kind=kind,
        title=f"{kind} {hours}",
        body="b",
        status=state,
        starts_at=AT + timedelta(hours=hours),
        affected_account_ids=accounts or [],
    )


def test_open_incident_wins_over_maintenance() -> None:
    """The banner shows an open incident before newer maintenance, and ignores closed ones."""
    maintenance = notice(NoticeKind.MAINTENANCE, NoticeStatus.SCHEDULED, 5)
    incident = notice(NoticeKind.INCIDENT, NoticeStatus.INVESTIGATING, 1)
    resolved = notice(NoticeKind.INCIDENT, NoticeStatus.RESOLVED, 9)
    assert banner_of([maintenance, incident, resolved], ["a-1"]) == incident
    assert banner_of([maintenance, resolved], ["a-1"]) == maintenance
    assert banner_of([resolved], None) is None


def test_banner_shows_only_notices_for_the_callers_districts() -> None:
    """A notice limited to other districts does not show; staff see every notice."""
    other = notice(NoticeKind.INCIDENT, NoticeStatus.IDENTIFIED, 1, ["a-9"])
    assert banner_of([other], ["a-1"]) is None
    assert banner_of([other], None) == other


def test_feed_page_searches_literally_orders_and_pages() -> None:
    """Feed search is a case-insensitive literal match; pages cut the ordered items."""
    items = [
        {"_id": f"e{k}", "at": AT + timedelta(minutes=k), "search_lc": f"post {k} grade.*"}
        for k in range(5)
    ]
    items.append({"_id": "x", "at": AT, "search_lc": "gradexx"})
    total, page = feed_page(items, "GRADE.*", True, 0, 2)
    assert total == 5
    assert [i["_id"] for i in page] == ["e4", "e3"]
    total, page = feed_page(items, None, False, 4, 10)
    assert total == 6
    assert [i["_id"] for i in page] == ["e3", "e4"]


def test_only_the_unfiltered_newest_first_list_takes_the_window_read() -> None:
    """The window read serves the default order alone; a filter or another order does not."""
    assert is_newest_first(CaseFilter(), SortKey.LAST_MODIFIED, True)
    assert not is_newest_first(CaseFilter(), SortKey.LAST_MODIFIED, False)
    assert not is_newest_first(CaseFilter(), SortKey.CREATED, True)
    assert not is_newest_first(CaseFilter(closed=False), SortKey.LAST_MODIFIED, True)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert newest_filter("a-1", since) == {"account_id": "a-1", "last_modified": {"$gte": since}}
    assert newest_filter(None, since) == {"last_modified": {"$gte": since}}


def test_newest_first_breaks_ties_by_number() -> None:
    """Merged district windows are ordered like the server's sort: last modified, then number."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    docs = [
        {"number": 1, "last_modified": at},
        {"number": 3, "last_modified": at - timedelta(1)},
        {"number": 2, "last_modified": at},
    ]
    assert [d["number"] for d in newest_first(docs)] == [2, 1, 3]


def test_ledger_order_of_late_events() -> None:
    """Late events must follow the replayed ones in topic order, before any later event."""
    assert not out_of_order(["s", "r", "a", "b"], 2, ["a", "b"])
    assert not out_of_order(["s", "r", "a", "b", "c"], 2, ["a", "b"])
    assert not out_of_order(["s", "r", "a"], 2, ["r", "a"])  # a redelivered replayed event
    assert out_of_order(["s", "r", "b", "a"], 2, ["a", "b"])
    assert out_of_order(["s", "r", "c", "a"], 2, ["a"])  # a live event got in first
