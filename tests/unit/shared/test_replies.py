"""Signed Message-IDs, reply addresses and subject tags: issued, read back, tampering refused."""

import base64
from uuid import UUID

import pytest
from pydantic import SecretStr

from shared.replies import (
    case_number_in_subject,
    case_of_message_id,
    case_of_message_ids,
    message_id,
    message_ids_in,
    parse_reply_address,
    reply_address,
    subject_tag,
    thread_id,
)

KEY = "local-test-mail-token-key"
OTHER_KEY = "another-deployments-key"
CASE = UUID("0b9a3c1e-5d2f-4a6b-8c7d-1e2f3a4b5c6d")
EVENT = UUID("f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9")
DOMAIN = "support-portal.local"


def _flip(text: str, index: int) -> str:
    """`text` with one base32 character changed at `index`."""
    replacement = "a" if text[index] != "a" else "b"
    return text[:index] + replacement + text[index + 1 :]


def test_message_id_names_case_and_event() -> None:
    """A Message-ID carries the case and event in hex, a MAC, and the domain, in angle brackets."""
    value = message_id(KEY, CASE, EVENT, DOMAIN)
    assert value.startswith("<c.0b9a3c1e5d2f4a6b8c7d1e2f3a4b5c6d.f1e2d3c4b5a649788695a4b3c2d1e0f9.")
    assert value.endswith("@support-portal.local>")
    assert case_of_message_id(KEY, value) == CASE


def test_message_id_is_stable_per_event() -> None:
    """The same event's notice always gets the same Message-ID; another event another one."""
    first = message_id(KEY, CASE, EVENT, DOMAIN)
    assert message_id(SecretStr(KEY), CASE, EVENT, DOMAIN) == first
    assert message_id(KEY, CASE, UUID(int=7), DOMAIN) != first


def test_message_id_read_without_brackets_and_in_upper_case() -> None:
    """A Message-ID quoted bare or upper-cased by a mail system still names its case."""
    value = message_id(KEY, CASE, EVENT, DOMAIN)
    assert case_of_message_id(KEY, value.strip("<>")) == CASE
    assert case_of_message_id(KEY, value.upper()) == CASE


@pytest.mark.parametrize("index", [3, 40, 70, 80])
def test_tampered_message_id_refused(index: int) -> None:
    """Changing any character of the case, event or MAC makes the Message-ID not ours."""
    value = message_id(KEY, CASE, EVENT, DOMAIN)
    assert case_of_message_id(KEY, _flip(value, index)) is None


def test_message_id_of_another_key_refused() -> None:
    """A Message-ID made with another key does not verify."""
    assert case_of_message_id(KEY, message_id(OTHER_KEY, CASE, EVENT, DOMAIN)) is None


@pytest.mark.parametrize(
    "value", ["", "<>", "<CAF=abc@mail.gmail.com>", "<c.1.2.3@x>", "not an id at all"]
)
def test_foreign_message_ids_refused(value: str) -> None:
    """Other mailers' Message-IDs and junk name no case."""
    assert case_of_message_id(KEY, value) is None


def test_references_checked_newest_first() -> None:
    """Of several of our ids in References, the newest (last) decides; foreign ids are skipped."""
    other_case = UUID(int=42)
    header = (
        f"{message_id(KEY, other_case, EVENT, DOMAIN)} <x@mail.example.org>\r\n "
        f"{message_id(KEY, CASE, EVENT, DOMAIN)} <y@mail.example.org>"
    )
    assert case_of_message_ids(KEY, header) == CASE
    assert message_ids_in(header)[0] == "<y@mail.example.org>"
    assert case_of_message_ids(KEY, "<y@mail.example.org>") is None
    assert case_of_message_ids(KEY, None) is None


def test_thread_id_names_its_case() -> None:
    """The per-case thread id verifies as the case's own."""
    assert case_of_message_id(KEY, thread_id(KEY, CASE, DOMAIN)) == CASE


def test_reply_address_round_trip() -> None:
    """A reply address names its case and the recipient it was issued to, no one else."""
    address = reply_address(KEY, CASE, "contact-zack-morris", DOMAIN)
    parsed = parse_reply_address(KEY, address)
    assert parsed is not None
    assert parsed.case_id == CASE
    assert parsed.is_for(KEY, "contact-zack-morris")
    assert not parsed.is_for(KEY, "contact-kelly-kapowski")


def test_reply_address_shape() -> None:
    """`case+<lowercase base32>@domain`, its local part within RFC 5321's 64 octets."""
    address = reply_address(KEY, CASE, "c" * 64, DOMAIN)
    local, _, domain = address.partition("@")
    assert domain == "support-portal.local"
    assert local.startswith("case+")
    assert local == local.lower()
    assert set(local.removeprefix("case+")) <= set("abcdefghijklmnopqrstuvwxyz234567")
    assert len(local) <= 64


def test_reply_address_survives_case_folding_and_brackets() -> None:
    """A mail system upper-casing the address, or quoting it in brackets, changes nothing."""
    address = reply_address(KEY, CASE, "contact-zack-morris", DOMAIN)
    folded = parse_reply_address(KEY, f"<{address.upper()}>")
    assert folded is not None
    assert folded.case_id == CASE


def test_reply_address_is_per_recipient() -> None:
    """Two recipients of one case get different reply addresses."""
    assert reply_address(KEY, CASE, "a", DOMAIN) != reply_address(KEY, CASE, "b", DOMAIN)


@pytest.mark.parametrize("index", [5, 20, 30, 40, 51])
def test_tampered_reply_address_refused(index: int) -> None:
    """Changing any character of the token (case, recipient tag or MAC) is refused."""
    address = reply_address(KEY, CASE, "contact-zack-morris", DOMAIN)
    assert parse_reply_address(KEY, _flip(address, index)) is None


def test_reply_address_for_another_case_cannot_be_forged() -> None:
    """Swapping another case id into a valid token, keeping its MAC, is refused."""
    address = reply_address(KEY, CASE, "contact-zack-morris", DOMAIN)
    token = address.removeprefix("case+").partition("@")[0]
    raw = base64.b32decode(token.upper() + "=")
    forged_raw = UUID(int=42).bytes + raw[16:]
    forged = base64.b32encode(forged_raw).decode().rstrip("=").lower()
    assert parse_reply_address(KEY, f"case+{forged}@{DOMAIN}") is None


@pytest.mark.parametrize(
    "address",
    [
        "",
        "support@support-portal.local",
        "case+@support-portal.local",
        "case+not-base32!@support-portal.local",
        "case+abc@support-portal.local",
        "case+" + "a" * 47,
    ],
)
def test_foreign_reply_addresses_refused(address: str) -> None:
    """Addresses that are not a whole token of ours name no case."""
    assert parse_reply_address(KEY, address) is None


def test_reply_address_of_another_key_refused() -> None:
    """A reply address made with another key does not verify."""
    address = reply_address(OTHER_KEY, CASE, "contact-zack-morris", DOMAIN)
    assert parse_reply_address(KEY, address) is None


def test_subject_tag() -> None:
    """A case number becomes the tag `[Case 1000003]`."""
    assert subject_tag(1000003) == "[Case 1000003]"


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("Re: [Case 1000003] Gradebook will not open", 1000003),
        ("AW: RE: [case 1000003] status changed", 1000003),
        ("Fwd: [ Case #1000004 ]", 1000004),
        ("[Case 1000005] [Case 1000006]", 1000005),
        ("Case 1000003 without brackets", None),
        ("[Case] nothing", None),
        ("[Case 0]", None),
        ("", None),
        (None, None),
    ],
)
def test_case_number_in_subject(subject: str | None, number: int | None) -> None:
    """The first `[Case N]` tag is found in any case, after any reply prefix."""
    assert case_number_in_subject(subject) == number


def test_reply_token_has_one_spelling() -> None:
    """A token whose unused trailing bits are set (same bytes, other spelling) is refused."""
    address = reply_address(KEY, CASE, "contact-zack-morris", DOMAIN)
    local, _, domain = address.partition("@")
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    last = alphabet.index(local[-1])
    twin = local[:-1] + alphabet[last | 0b00111]
    assert twin != local
    assert parse_reply_address(KEY, f"{twin}@{domain}") is None
