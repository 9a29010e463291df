"""Signed Message-IDs, per-case reply addresses and subject tags that thread mail to a case."""

import base64
import hashlib
import hmac
import re
from typing import NamedTuple, TypeAlias
from uuid import UUID

from pydantic import SecretStr

Key: TypeAlias = SecretStr | str | bytes

# Distinct labels, so a MAC made for one kind of value never verifies as another.
_MESSAGE_ID = b"shared.replies/message-id\x00"
_REPLY_ADDRESS = b"shared.replies/reply-address\x00"
_RECIPIENT = b"shared.replies/recipient\x00"
# 80 bits for Message-IDs, 64 for reply addresses: online guessing through SMTP is hopeless
# long before either is found, and the reply token stays short (see reply_address).
_ID_MAC_BYTES = 10
_ADDRESS_MAC_BYTES = 8
_RECIPIENT_TAG_BYTES = 5
_TOKEN_BYTES = 16 + _RECIPIENT_TAG_BYTES + _ADDRESS_MAC_BYTES
REPLY_LOCAL_PREFIX = "case+"
# A References header may list a whole thread; only its newest ids are worth checking.
MAX_REFERENCES = 50
# The thread every notice of a case can reference, so clients thread even without the first.
THREAD_ROOT_EVENT = UUID(int=0)

_ID = re.compile(r"<([^<>\s]{1,250})>")
_OUR_ID = re.compile(r"c\.([0-9a-f]{32})\.([0-9a-f]{32})\.([a-z2-7]{16})@[^@\s]+")
_TAG = re.compile(r"\[\s*case\s*#?\s*(\d{1,12})\s*\]", re.IGNORECASE)


class ReplyAddress(NamedTuple):
    """What a verified reply address says: the case, and a keyed tag of the recipient."""

    case_id: UUID
    recipient_tag: str

    def is_for(self, key: Key, recipient_id: str) -> bool:
        """Whether this address was issued to `recipient_id`."""
        return hmac.compare_digest(self.recipient_tag, recipient_tag(key, recipient_id))


def message_id(key: Key, case_id: UUID, event_id: UUID, domain: str) -> str:
    """The Message-ID of the notice of `event_id` on `case_id`: `<c.<case>.<event>.<mac>@dom>`."""
    mac = _b32(_mac(key, _MESSAGE_ID + case_id.bytes + event_id.bytes, _ID_MAC_BYTES))
    return f"<c.{case_id.hex}.{event_id.hex}.{mac}@{domain}>"


def thread_id(key: Key, case_id: UUID, domain: str) -> str:
    """A Message-ID standing for the whole case, for every notice's References."""
    return message_id(key, case_id, THREAD_ROOT_EVENT, domain)


def case_of_message_id(key: Key, value: str) -> UUID | None:
    """The case a Message-ID we issued belongs to; None if it is not ours or was altered."""
    match = _OUR_ID.fullmatch(value.strip().strip("<>").lower())
    if match is None:
        return None
    case_id, event_id = UUID(hex=match[1]), UUID(hex=match[2])
    expected = _b32(_mac(key, _MESSAGE_ID + case_id.bytes + event_id.bytes, _ID_MAC_BYTES))
    return case_id if hmac.compare_digest(expected, match[3]) else None


def message_ids_in(header: str | None) -> list[str]:
    """The `<...>` ids of an In-Reply-To or References header, newest (last) first."""
    if not header:
        return []
    return [f"<{found}>" for found in reversed(_ID.findall(header))][:MAX_REFERENCES]


def case_of_message_ids(key: Key, header: str | None) -> UUID | None:
    """The case of the newest id of ours in an In-Reply-To or References header."""
    for value in message_ids_in(header):
        if (case_id := case_of_message_id(key, value)) is not None:
            return case_id
    return None


def recipient_tag(key: Key, recipient_id: str) -> str:
    """A short keyed digest of a recipient id (a contact's or staff member's id)."""
    return _b32(_mac(key, _RECIPIENT + recipient_id.encode(), _RECIPIENT_TAG_BYTES))


def reply_address(key: Key, case_id: UUID, recipient_id: str, domain: str) -> str:
    """`case+<token>@domain`: replies to it reach `case_id`, and say whom it was sent to.

    The token is lowercase base32 (mail systems may fold the case of a local part) of the
    case id, a keyed tag of the recipient and a MAC over both: 47 characters, so the local
    part stays within the 64 octets RFC 5321 allows. Directory ids are free text of up to 64
    characters and could not fit, so the recipient is bound by its tag (ReplyAddress.is_for).
    """
    tag = _mac(key, _RECIPIENT + recipient_id.encode(), _RECIPIENT_TAG_BYTES)
    body = case_id.bytes + tag
    token = _b32(body + _mac(key, _REPLY_ADDRESS + body, _ADDRESS_MAC_BYTES))
    return f"{REPLY_LOCAL_PREFIX}{token}@{domain}"


def parse_reply_address(key: Key, address: str) -> ReplyAddress | None:
    """The case and recipient tag of a reply address we issued; None if not ours or altered."""
    local, at, _domain = address.strip().strip("<>").rpartition("@")
    local = local.lower()
    if not at or not local.startswith(REPLY_LOCAL_PREFIX):
        return None
    raw = _unb32(local.removeprefix(REPLY_LOCAL_PREFIX))
    if raw is None or len(raw) != _TOKEN_BYTES:
        return None
    body, mac = raw[:-_ADDRESS_MAC_BYTES], raw[-_ADDRESS_MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(key, _REPLY_ADDRESS + body, _ADDRESS_MAC_BYTES)):
        return None
    return ReplyAddress(UUID(bytes=body[:16]), _b32(body[16:]))


def subject_tag(case_number: int) -> str:
    """The tag every notice's subject starts with: `[Case 1000003]`."""
    return f"[Case {case_number}]"


def case_number_in_subject(subject: str | None) -> int | None:
    """The case number of the first `[Case N]` tag in a subject (any case, `#` allowed)."""
    match = _TAG.search(subject or "")
    if match is None:
        return None
    number = int(match[1])
    return number if number >= 1 else None


def _mac(key: Key, message: bytes, size: int) -> bytes:
    return hmac.digest(_key_bytes(key), message, hashlib.sha256)[:size]


def _key_bytes(key: Key) -> bytes:
    if isinstance(key, SecretStr):
        key = key.get_secret_value()
    return key.encode() if isinstance(key, str) else key


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=").lower()


def _unb32(text: str) -> bytes | None:
    if not text or not re.fullmatch(r"[a-z2-7]+", text):
        return None
    padded = text.upper() + "=" * (-len(text) % 8)
    try:
        raw = base64.b32decode(padded)
    except ValueError:
        return None
    # One spelling per token: unused trailing bits must be zero, or a token would have twins.
    return raw if _b32(raw) == text else None
