"""The queue's Mongo filter and sort for case type, subject words, customer reply and columns."""

import re

from routing.store import QUEUE_ORDER, QueueFilter, queue_sort
from shared.enums import CaseType, Department

CAMPUS = Department.CAMPUS_SUPPORT


def _matches(query: dict[str, object], subject: str) -> bool:
    """Whether a subject passes the query's subject conditions (as Mongo applies $regex/i)."""
    conditions = query.get("$and") or [{"subject": query["subject"]}]
    assert isinstance(conditions, list)
    return all(
        re.search(c["subject"]["$regex"], subject, re.IGNORECASE) is not None for c in conditions
    )


def test_case_type_and_reply_filter_exactly() -> None:
    """A case type and the customer-replied flag become equality conditions; unset, absent."""
    query = QueueFilter(case_type=CaseType.DATA_RESTORE, customer_replied=True).query(CAMPUS)
    assert (query["case_type"], query["customer_replied"]) == ("Data Restore", True)
    assert QueueFilter(customer_replied=False).query(CAMPUS)["customer_replied"] is False
    plain = QueueFilter().query(CAMPUS)
    assert {"case_type", "customer_replied", "subject", "$and"}.isdisjoint(plain)


def test_every_subject_word_must_occur_in_any_case() -> None:
    """Two words: both must occur, anywhere, in any case; one word needs no $and."""
    both = QueueFilter(subject_words=("snow", "DAY")).query(CAMPUS)
    assert _matches(both, "Snow day missing from the calendar")
    assert not _matches(both, "Snow report")
    one = QueueFilter(subject_words=("grade",)).query(CAMPUS)
    assert "$and" not in one
    assert _matches(one, "Gradebook scores")


def test_subject_words_are_literal_not_patterns() -> None:
    """Regex characters in a word match only themselves."""
    query = QueueFilter(subject_words=("a.c", "(x")).query(CAMPUS)
    assert _matches(query, "see a.c and (x here")
    assert not _matches(query, "abc (x")


def test_a_column_sort_falls_back_to_work_order_then_the_id() -> None:
    """By number descending, then work order ascending, then the id (stable pages)."""
    assert queue_sort("number", "desc") == [("case_number", -1), *QUEUE_ORDER, ("_id", 1)]
    assert queue_sort("last_activity")[0] == ("last_activity_at", 1)


def test_work_order_reversed_flips_every_key() -> None:
    """`work` descending is work order read from the end, the id included."""
    assert queue_sort("work") == [*QUEUE_ORDER, ("_id", 1)]
    assert queue_sort("work", "desc") == [(f, -d) for f, d in [*QUEUE_ORDER, ("_id", 1)]]
    assert queue_sort("urgency")[0] == ("sla_due", 1)
