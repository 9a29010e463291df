"""Services' bearer auth accepts the portal's identity token for the person it names, as the
directory has them now; anything else is refused like an unknown token."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from shared.directory import DirectoryStore
from shared.enums import ActorKind, ContactType, TokenScope
from shared.events import Contact
from shared.identity import Identity, IdentityKeys

KEYS = IdentityKeys("unit-test-identity-key-of-some-length")


def _contact(active: bool = True, kind: ContactType = ContactType.AUTHORIZED_SUPPORT) -> Contact:
    return Contact(
        id="zack-morris",
        first_name="Zack",
        last_name="Morris (TESTING)",
        email="zack.morris@bayside.example",
        title="District Technology Coordinator",
        primary_phone="555-0100",
        contact_type=kind,
        areas_of_responsibility=["SIS"],
        account_ids=["bayside"],
        active=active,
    )


class Directory(DirectoryStore):
    """A directory of one contact; no database behind it."""

    def __init__(self, contact: Contact | None, keys: IdentityKeys = KEYS) -> None:
        super().__init__(defaultdict(lambda: None), identity=keys)  # type: ignore[arg-type]
        self.person = contact

    async def contact(self, contact_id: str) -> Contact | None:
        return self.person if self.person and self.person.id == contact_id else None


async def test_identity_token_stands_for_the_contact() -> None:
    """A portal token for Zack is Zack, with his districts and contact type."""
    found = await Directory(_contact()).principal_for(KEYS.issue(ActorKind.CONTACT, "zack-morris"))
    assert found is not None
    assert found.id == "zack-morris"
    assert found.name == "Zack Morris (TESTING)"
    assert found.account_ids == ["bayside"]
    assert found.can_modify_cases


async def test_read_only_contact_stays_read_only() -> None:
    """A Read-Only contact's token cannot modify cases, whatever scopes it carries."""
    directory = Directory(_contact(kind=ContactType.READ_ONLY))
    found = await directory.principal_for(KEYS.issue(ActorKind.CONTACT, "zack-morris"))
    assert found is not None
    assert not found.can_modify_cases


async def test_deactivated_contact_is_refused() -> None:
    """A token for a contact who is no longer active is refused."""
    found = await Directory(_contact(active=False)).principal_for(
        KEYS.issue(ActorKind.CONTACT, "zack-morris")
    )
    assert found is None


async def test_token_of_another_key_or_expired_is_refused() -> None:
    """A token signed with another key, or past its expiry, is refused."""
    directory = Directory(_contact())
    other = IdentityKeys("some-other-key-some-other-key-some")
    assert await directory.principal_for(other.issue(ActorKind.CONTACT, "zack-morris")) is None
    past = datetime.now(UTC) - timedelta(minutes=1)
    old = KEYS.sign(Identity(ActorKind.CONTACT, "zack-morris", frozenset(TokenScope), past))
    assert await directory.principal_for(old) is None


async def test_read_scope_allows_reads_only() -> None:
    """A read-scoped identity token allows GET and not POST."""
    token = KEYS.issue(ActorKind.CONTACT, "zack-morris", frozenset({TokenScope.READ}))
    found = await Directory(_contact()).principal_for(token)
    assert found is not None
    assert found.allows("GET")
    assert not found.allows("POST")
