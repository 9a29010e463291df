"""Edge input of the feed's list and detail reads: prefix bounds, literal regexes, case refs."""

import re
from uuid import UUID

import bson
import pytest

from feed.api import MAX_PAGE
from feed.logic import prefix_range, regex_literal
from shared.cases import parse_case_ref

PREFIXES = ["a", "zz", "\ud7ff", "x\ud7ff", "\U0010ffff", "a\U0010ffff", "\U0010ffff" * 3, "\uffff"]
STRINGS = ["", "a", "ab", "b", "\ud7ff", "\ud7ffz", "\ue000", "\uffff", "\U00010000", "\U0010ffff"]


def _within(value: str, bounds: dict[str, str]) -> bool:
    above = value >= bounds["$gte"]
    return above and ("$lt" not in bounds or value < bounds["$lt"])


@pytest.mark.parametrize("prefix", PREFIXES)
def test_prefix_range_holds_exactly_the_strings_with_the_prefix(prefix: str) -> None:
    """Every string is in the range if and only if it starts with the prefix (code point
    order, which is UTF-8 byte order), and the bounds encode to BSON."""
    bounds = prefix_range(prefix)
    bson.encode({"q": bounds})  # a surrogate in a bound would raise here
    candidates = {prefix, prefix + "a", prefix + "\U0010ffff", *STRINGS}
    candidates |= {prefix[:-1] + s for s in STRINGS} | {s + prefix for s in STRINGS}
    for value in candidates:
        assert _within(value, bounds) == value.startswith(prefix), (prefix, value)


def test_prefix_range_skips_the_surrogates() -> None:
    """The bound after U+D7FF is U+E000, the next character; U+10FFFF has no bound."""
    assert prefix_range("a\ud7ff") == {"$gte": "a\ud7ff", "$lt": "a\ue000"}
    assert prefix_range("a\U0010ffff") == {"$gte": "a\U0010ffff", "$lt": "b"}
    assert prefix_range("\U0010ffff") == {"$gte": "\U0010ffff"}


@pytest.mark.parametrize("text", ["\x00", "a\x00b", "gpa.*", "[draft] 50%", "\\x00"])
def test_regex_literal_matches_the_text_and_encodes_to_bson(text: str) -> None:
    """The pattern matches the text literally and compiles into a BSON regex (no raw NUL)."""
    pattern = regex_literal(text)
    assert "\x00" not in pattern
    assert re.fullmatch(pattern, text)
    assert not re.fullmatch(pattern, text + "x")
    bson.encode({"q": re.compile(pattern)})


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("1000003", 1000003),
        ("0001000003", 1000003),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
        ("99999999999999999999", None),
        ("9" * 8000, None),
        ("0", None),
        ("²", None),
        ("①", None),
        ("١٢", None),  # Arabic-Indic digits
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1_000", None),
        ("6f1d3c2e-9a4b-4f7e-8c1d-2b3a4c5d6e7f", UUID("6f1d3c2e-9a4b-4f7e-8c1d-2b3a4c5d6e7f")),
        ("{" + "0" * 5000 + "}", None),
        ("not-a-case", None),
    ],
)
def test_parse_case_ref_accepts_ascii_numbers_in_64_bits_or_uuids(
    ref: str, expected: int | UUID | None
) -> None:
    """Only ASCII-digit numbers from 1 to 2^63-1, or a UUID, name a case."""
    assert parse_case_ref(ref) == expected


def test_the_highest_page_keeps_skip_and_limit_within_64_bits() -> None:
    """The last allowed page of 200 ends within Mongo's signed 64-bit skip and limit."""
    assert MAX_PAGE * 200 <= 2**63 - 1 < (MAX_PAGE + 1) * 200
