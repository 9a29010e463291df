"""Directory administration (intake.admin, intake.cli): rules, idempotent bootstrap, no secrets."""

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from intake import cli
from intake.admin import DirectoryAdmin, DirectoryAdminError, staff_id_for
from shared.directory import DirectoryStore, directory_key, hash_token
from shared.enums import ActorKind, Department, TokenScope
from shared.events import (
    Account,
    AccountUpserted,
    AnyDirectoryEvent,
    Contact,
    ContactUpserted,
    StaffMember,
    StaffUpserted,
    TokenIssued,
)

BAYSIDE = Account(id="bayside", name="Bayside School (TESTING)")
KELLY = Contact(
    id="kelly-kapowski",
    first_name="Kelly",
    last_name="Kapowski",
    email="kelly@bayside.example",
    contact_type="Technical",
    account_ids=["bayside"],
)


class Cursor:
    """An async cursor over documents, sortable by one field."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    def sort(self, field: str, direction: int) -> "Cursor":
        return Cursor(sorted(self.docs, key=lambda d: d[field], reverse=direction < 0))

    def __aiter__(self) -> Any:
        async def each() -> Any:
            for doc in self.docs:
                yield doc

        return each()


class Collection:
    """find_one and find over documents keyed by _id; a query matches fields or list members."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    def _matches(self, doc: dict[str, Any], query: dict[str, Any]) -> bool:
        def one(value: Any, wanted: Any) -> bool:
            return wanted in value if isinstance(value, list) else value == wanted

        return all(one(doc.get(k), v) for k, v in query.items())

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        return next((d for d in self.docs.values() if self._matches(d, query)), None)

    def find(self, query: dict[str, Any]) -> Cursor:
        return Cursor([d for d in self.docs.values() if self._matches(d, query)])


class Directory:
    """A directory with in-memory collections and a publish that records every event."""

    def __init__(self) -> None:
        names = ("dir_accounts", "dir_contacts", "dir_staff", "dir_tokens")
        self.store = DirectoryStore({name: Collection() for name in names})  # type: ignore[arg-type]
        self.published: list[AnyDirectoryEvent] = []

    async def publish(self, events: list[AnyDirectoryEvent]) -> int:
        changed = [e for e in events if self._record(e) != self._stored(e)]
        for event in changed:
            self.published.append(event)
            self._collection(event).docs[self._key(event)] = self._record(event)
        return len(changed)

    def _key(self, event: AnyDirectoryEvent) -> str:
        return directory_key(event).split(":", 1)[1]

    def _record(self, event: AnyDirectoryEvent) -> dict[str, Any]:
        match event:
            case AccountUpserted():
                record = event.account.model_dump(mode="json")
            case ContactUpserted():
                record = event.contact.model_dump(mode="json")
            case StaffUpserted():
                record = event.staff.model_dump(mode="json")
            case TokenIssued():
                record = event.token.model_dump(mode="json")
        return {**record, "_id": self._key(event)}

    def _stored(self, event: AnyDirectoryEvent) -> dict[str, Any] | None:
        return self._collection(event).docs.get(self._key(event))

    def _collection(self, event: AnyDirectoryEvent) -> Collection:
        match event:
            case AccountUpserted():
                return self.store.accounts  # type: ignore[return-value]
            case ContactUpserted():
                return self.store.contacts  # type: ignore[return-value]
            case StaffUpserted():
                return self.store.staff_members  # type: ignore[return-value]
            case TokenIssued():
                return self.store.tokens  # type: ignore[return-value]


@pytest.fixture
def directory() -> Directory:
    return Directory()


@pytest.fixture
def admin(directory: Directory) -> DirectoryAdmin:
    return DirectoryAdmin(directory.store, directory.publish)


def later(days: int = 30) -> datetime:
    """An instant some days from now."""
    return datetime.now(UTC) + timedelta(days=days)


async def test_a_contact_needs_a_known_account(admin: DirectoryAdmin) -> None:
    """Adding a contact of an unknown district is refused, naming the command that fixes it."""
    with pytest.raises(DirectoryAdminError, match=r"no account 'bayside'.*add-account"):
        await admin.save_contact(KELLY)
    await admin.save_account(BAYSIDE)
    assert await admin.save_contact(KELLY) is True
    assert await admin.save_contact(KELLY) is False  # unchanged: nothing published again


async def test_issued_token_goes_out_hashed_with_its_scopes_and_expiry(
    admin: DirectoryAdmin, directory: Directory
) -> None:
    """Only the token's SHA-256 is published, with the scopes and expiry asked for."""
    await admin.save_account(BAYSIDE)
    await admin.save_contact(KELLY)
    expires = later()
    issued = await admin.issue_token(
        ActorKind.CONTACT, "kelly-kapowski", [TokenScope.READ], expires, "tok-kelly"
    )
    event = directory.published[-1]
    assert isinstance(event, TokenIssued)
    assert event.token.sha256 == hash_token(issued.secret)
    assert event.token.scopes == [TokenScope.READ]
    assert event.token.expires_at == expires
    assert issued.secret not in str([e.model_dump() for e in directory.published])


async def test_tokens_only_for_active_people_and_never_in_the_past(admin: DirectoryAdmin) -> None:
    """No token for an unknown or deactivated contact, a taken id or a past expiry."""
    await admin.save_account(BAYSIDE)
    scopes = list(TokenScope)
    with pytest.raises(DirectoryAdminError, match="no active contact 'kelly-kapowski'"):
        await admin.issue_token(ActorKind.CONTACT, "kelly-kapowski", scopes, later())
    await admin.save_contact(KELLY)
    await admin.issue_token(ActorKind.CONTACT, "kelly-kapowski", scopes, later(), "tok-k")
    with pytest.raises(DirectoryAdminError, match="'tok-k' is taken"):
        await admin.issue_token(ActorKind.CONTACT, "kelly-kapowski", scopes, later(), "tok-k")
    with pytest.raises(DirectoryAdminError, match="in the past"):
        await admin.issue_token(ActorKind.CONTACT, "kelly-kapowski", scopes, later(-1))
    assert await admin.deactivate_contact("kelly-kapowski") is True
    assert await admin.deactivate_contact("kelly-kapowski") is False
    with pytest.raises(DirectoryAdminError, match="no active contact"):
        await admin.issue_token(ActorKind.CONTACT, "kelly-kapowski", scopes, later())


async def test_revoking_marks_the_record_and_says_when_it_was_already(
    admin: DirectoryAdmin,
) -> None:
    """Revoke publishes the record revoked once; an unknown id is refused."""
    await admin.save_staff(
        StaffMember(id="pat", name="Pat", email="pat@x.example", departments=["Training"])
    )
    await admin.issue_token(ActorKind.STAFF, "pat", list(TokenScope), None, "tok-pat")
    assert await admin.revoke_token("tok-pat") is True
    assert await admin.revoke_token("tok-pat") is False
    assert [t.revoked for t in await admin.tokens("pat")] == [True]
    with pytest.raises(DirectoryAdminError, match="no token 'tok-nope'"):
        await admin.revoke_token("tok-nope")


async def test_bootstrap_runs_once(admin: DirectoryAdmin, directory: Directory) -> None:
    """The first run creates a supervisor and one token; a second run publishes nothing."""
    args = cli.parser().parse_args(["bootstrap", "--staff-email", "Ops.Lead@vendor.example"])
    first = await admin.bootstrap(cli.bootstrap_staff_of(args), cli.expiry_of(args))
    assert first.staff_created
    assert first.token is not None
    assert first.staff.id == "ops-lead"
    assert first.staff.supervisor
    assert set(first.staff.departments) == set(Department)
    count = len(directory.published)
    again = await admin.bootstrap(cli.bootstrap_staff_of(args), cli.expiry_of(args))
    assert again.token is None
    assert again.existing_token is not None
    assert len(directory.published) == count


async def test_listings_hide_deactivated_records_unless_asked(admin: DirectoryAdmin) -> None:
    """list-contacts shows active contacts; --inactive adds the deactivated ones."""
    await admin.save_account(BAYSIDE)
    await admin.save_contact(KELLY)
    await admin.deactivate_contact(KELLY.id)
    assert await admin.contacts("bayside", inactive=False) == []
    assert [c.id for c in await admin.contacts("bayside", inactive=True)] == [KELLY.id]


def test_staff_ids_come_from_the_email_local_part() -> None:
    """A bootstrap staff id is the slug of the address's local part."""
    assert staff_id_for("Ops.Lead@vendor.example") == "ops-lead"
    assert staff_id_for("@vendor.example") == "admin"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--expires-at", "2030-01-31"], datetime(2030, 1, 31, tzinfo=UTC)),
        (["--expires-at", "2030-01-31T17:00+00:00"], datetime(2030, 1, 31, 17, tzinfo=UTC)),
        (["--no-expiry"], None),
    ],
)
def test_expiry_arguments(argv: list[str], expected: datetime | None) -> None:
    """An expiry is a date (00:00 UTC), a date-time with offset, or none at all."""
    args = cli.parser().parse_args(["issue-token", "--subject-id", "x", *argv])
    assert cli.expiry_of(args) == expected


def test_default_expiry_is_ninety_days() -> None:
    """Without an expiry option a token expires in 90 days."""
    args = cli.parser().parse_args(["issue-token", "--subject-id", "x"])
    expires = cli.expiry_of(args)
    assert expires is not None
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)


@pytest.mark.parametrize(
    ("option", "bad", "hint"),
    [
        ("--expires-at", "2030-01-31T17:00", "YYYY-MM-DDTHH:MM+00:00"),
        ("--expires-at", "31/01/2030", "YYYY-MM-DD"),
        ("--expires-in-days", "0", "from 1 to 3650"),
        ("--expires-in-days", "x", "from 1 to 3650"),
    ],
)
def test_bad_expiry_is_a_usage_error(
    option: str, bad: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A time without offset, a non-date or a bad day count exits 2 saying what to give."""
    with pytest.raises(SystemExit) as exit_:
        cli.parser().parse_args(["issue-token", "--subject-id", "x", option, bad])
    assert exit_.value.code == 2
    assert hint in capsys.readouterr().err


def test_departments_by_slug_or_name() -> None:
    """add-staff takes `campus-support` or `Campus Support`; an unknown one lists the slugs."""
    assert cli.department("campus-support") is Department.CAMPUS_SUPPORT
    assert cli.department("Campus Support") is Department.CAMPUS_SUPPORT
    with pytest.raises(argparse.ArgumentTypeError, match="hosting"):
        cli.department("helpdesk")
