"""`python -m intake.cli`: manage accounts, contacts, staff and API tokens of the directory."""

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError
from pydantic import BaseModel, ValidationError
from pymongo.errors import PyMongoError

from intake.admin import (
    Bootstrap,
    DirectoryAdmin,
    DirectoryAdminError,
    IssuedToken,
    staff_id_for,
    token_state,
)
from intake.errors import Unavailable
from intake.producer import EventPublisher
from intake.seed import publish_directory
from intake.settings import Settings
from shared.directory import DirectoryStore
from shared.enums import ActorKind, AreaOfResponsibility, ContactType, Department, TokenScope
from shared.events import Account, AnyDirectoryEvent, ApiToken, Contact, StaffMember
from shared.kafka import ensure_topics
from shared.mongo import mongo_client

DEFAULT_TOKEN_DAYS = 90
DEFAULT_BOOTSTRAP_DAYS = 30
EXAMPLES = """\
Every change is published (acks=all) on the directory topic and stored in intake's
directory, so intake, routing, feed and notify all see it. Examples:

  python -m intake.cli add-account --id bayside --name "Bayside School"
  python -m intake.cli add-contact --id kelly-kapowski --first-name Kelly --last-name Kapowski \\
      --email kelly@bayside.example --type Technical --account bayside
  python -m intake.cli issue-token --subject-id kelly-kapowski --expires-in-days 30
  python -m intake.cli list-tokens --subject-id kelly-kapowski
  python -m intake.cli revoke-token --token-id tok-...
  python -m intake.cli deactivate-contact --id kelly-kapowski

Settings come from the environment as for intake (KAFKA_BOOTSTRAP_SERVERS, MONGO_URL,
INTAKE_MONGO_DATABASE, TOPIC_NAMESPACE). Exit status: 0 done, 1 refused or unreachable,
2 bad arguments.
"""


# --- arguments ---------------------------------------------------------------------------


def department(value: str) -> Department:
    """A department by slug (`campus-support`) or by name (`Campus Support`)."""
    try:
        return Department(value)
    except ValueError:
        pass
    try:
        return Department.from_slug(value)
    except ValueError:
        slugs = ", ".join(d.slug for d in Department)
        raise argparse.ArgumentTypeError(f"unknown department {value!r}; one of {slugs}") from None


def expiry_date(value: str) -> datetime:
    """An ISO date (expires at 00:00 UTC that day) or a date-time with an offset."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value[:40]!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM+00:00"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give the time with its offset: YYYY-MM-DDTHH:MM+00:00")
    return moment


def days(value: str) -> int:
    """A whole number of days from 1 to 3650."""
    if not value.isdigit() or not 1 <= int(value) <= 3650:
        raise argparse.ArgumentTypeError(f"{value[:20]!r} is not a number of days from 1 to 3650")
    return int(value)


def parser() -> argparse.ArgumentParser:
    """The command line."""
    top = argparse.ArgumentParser(
        prog="python -m intake.cli",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _listing_commands(commands)
    _record_commands(commands)
    _token_commands(commands)
    _bootstrap_command(commands)
    return top


def _listing_commands(commands: Any) -> None:
    accounts = commands.add_parser("list-accounts", help="list the accounts (districts)")
    contacts = commands.add_parser("list-contacts", help="list contacts, of one account or all")
    contacts.add_argument("--account", help="only this account's contacts")
    staff = commands.add_parser("list-staff", help="list staff, of one department or all")
    staff.add_argument("--department", type=department, help="slug, e.g. campus-support")
    for listing in (contacts, staff):
        listing.add_argument("--inactive", action="store_true", help="include deactivated ones")
    tokens = commands.add_parser("list-tokens", help="list tokens (ids, scopes, expiry, state)")
    tokens.add_argument("--subject-id", help="only the tokens of this contact or staff id")
    for listing in (accounts, contacts, staff, tokens):
        listing.add_argument("--json", action="store_true", help="one JSON document")


def _record_commands(commands: Any) -> None:
    account = commands.add_parser("add-account", help="create or update an account (district)")
    account.add_argument("--id", required=True)
    account.add_argument("--name", required=True)
    account.add_argument("--time-zone", default="America/Chicago")
    add = commands.add_parser("add-contact", help="create or update a district contact")
    add.add_argument("--id", required=True)
    add.add_argument("--first-name", required=True)
    add.add_argument("--last-name", required=True)
    add.add_argument("--email", required=True)
    add.add_argument("--type", required=True, choices=[t.value for t in ContactType])
    add.add_argument("--account", action="append", required=True, help="repeat for several")
    add.add_argument("--title")
    add.add_argument("--phone")
    add.add_argument(
        "--area", action="append", default=[], choices=[a.value for a in AreaOfResponsibility]
    )
    staff = commands.add_parser("add-staff", help="create or update a support staff member")
    staff.add_argument("--id", required=True)
    staff.add_argument("--name", required=True)
    staff.add_argument("--email", required=True)
    staff.add_argument(
        "--department", type=department, action="append", required=True, help="repeatable"
    )
    staff.add_argument("--supervisor", action="store_true", help="acts on every department")
    staff.add_argument("--off-duty", action="store_true", help="takes no new work")
    for kind, who in (("contact", "contact"), ("staff", "staff member")):
        off = commands.add_parser(
            f"deactivate-{kind}", help=f"deactivate a {who}; their tokens stop working"
        )
        off.add_argument("--id", required=True)


def _token_commands(commands: Any) -> None:
    issue = commands.add_parser("issue-token", help="issue a bearer token; prints it once")
    issue.add_argument("--subject-kind", choices=["contact", "staff"], default="contact")
    issue.add_argument("--subject-id", required=True)
    issue.add_argument("--token-id", help="defaults to a new random id")
    issue.add_argument(
        "--scope",
        action="append",
        choices=[s.value for s in TokenScope],
        help="repeatable; default read and write (read: GET and HEAD only)",
    )
    _expiry_options(issue, DEFAULT_TOKEN_DAYS)
    revoke = commands.add_parser("revoke-token", help="revoke a token by its id")
    revoke.add_argument("--token-id", required=True)


def _expiry_options(command: argparse.ArgumentParser, default_days: int) -> None:
    expiry = command.add_mutually_exclusive_group()
    expiry.add_argument(
        "--expires-in-days", type=days, default=default_days, help=f"default {default_days}"
    )
    expiry.add_argument("--expires-at", type=expiry_date, help="YYYY-MM-DD (00:00 UTC) or ISO")
    expiry.add_argument("--no-expiry", action="store_true", help="the token never expires")


def _bootstrap_command(commands: Any) -> None:
    boot = commands.add_parser(
        "bootstrap",
        help="first run: create the first staff member (a supervisor) and one token; idempotent",
    )
    boot.add_argument("--staff-email", required=True)
    boot.add_argument("--staff-name", default="Support Administrator")
    boot.add_argument("--staff-id", help="default: from the email's local part")
    boot.add_argument(
        "--department", type=department, action="append", help="repeatable; default every one"
    )
    boot.add_argument("--token-file", type=Path, help="write the token here (mode 600)")
    _expiry_options(boot, DEFAULT_BOOTSTRAP_DAYS)


# --- records from arguments --------------------------------------------------------------


def contact_of(args: argparse.Namespace) -> Contact:
    """The contact the add-contact arguments describe."""
    return Contact(
        id=args.id,
        first_name=args.first_name,
        last_name=args.last_name,
        email=args.email,
        title=args.title,
        primary_phone=args.phone,
        contact_type=ContactType(args.type),
        areas_of_responsibility=[AreaOfResponsibility(a) for a in args.area],
        account_ids=args.account,
    )


def staff_of(args: argparse.Namespace) -> StaffMember:
    """The staff member the add-staff arguments describe."""
    return StaffMember(
        id=args.id,
        name=args.name,
        email=args.email,
        departments=list(dict.fromkeys(args.department)),
        supervisor=args.supervisor,
        on_duty=not args.off_duty,
    )


def bootstrap_staff_of(args: argparse.Namespace) -> StaffMember:
    """The first staff member: a supervisor who takes no queue work by default."""
    return StaffMember(
        id=args.staff_id or staff_id_for(args.staff_email),
        name=args.staff_name,
        email=args.staff_email,
        departments=list(dict.fromkeys(args.department or list(Department))),
        supervisor=True,
        on_duty=False,
    )


def expiry_of(args: argparse.Namespace) -> datetime | None:
    """When the token the arguments ask for expires (None: never)."""
    if args.no_expiry:
        return None
    if args.expires_at is not None:
        return args.expires_at  # type: ignore[no-any-return]
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=args.expires_in_days)


# --- running -----------------------------------------------------------------------------


class Session:
    """Intake's directory store, and Kafka connected only once something is published."""

    def __init__(self, settings: Settings, directory: DirectoryStore) -> None:
        self.settings = settings
        self.directory = directory
        self.publisher: EventPublisher | None = None

    async def publish(self, events: list[AnyDirectoryEvent]) -> int:
        """Publish (acks=all) and store the events whose record differs from the stored one."""
        publisher = await self._publisher()
        topic = self.settings.topics.directory
        return await publish_directory(events, topic, self.directory, publisher)

    async def _publisher(self) -> EventPublisher:
        if self.publisher is None:
            s = self.settings
            await ensure_topics(s.kafka_bootstrap_servers, s.topics.all_specs())
            await self.directory.ensure_indexes()
            publisher = EventPublisher(
                s.kafka_bootstrap_servers, "intake-cli", s.publish_timeout_ms, 0
            )
            await publisher.start()
            self.publisher = publisher
        return self.publisher


@asynccontextmanager
async def session(settings: Settings) -> AsyncIterator[DirectoryAdmin]:
    """The directory administration for one command, closed afterwards."""
    mongo = mongo_client(settings)
    state = Session(settings, DirectoryStore(mongo[settings.mongo_database]))
    try:
        yield DirectoryAdmin(state.directory, state.publish)
    finally:
        if state.publisher is not None:
            await state.publisher.stop()
        await mongo.close()


Command = Callable[[DirectoryAdmin, argparse.Namespace], Awaitable[str]]


async def run(args: argparse.Namespace, settings: Settings) -> str:
    """Carry out one command; returns what to print."""
    async with session(settings) as admin:
        return await COMMANDS[args.command](admin, args)


async def _list_accounts(admin: DirectoryAdmin, args: argparse.Namespace) -> str:
    accounts = await admin.accounts()
    rows = [[a.id, a.name, a.time_zone] for a in accounts]
    return _listing(args, accounts, ["ID", "NAME", "TIME ZONE"], rows)


async def _list_contacts(admin: DirectoryAdmin, args: argparse.Namespace) -> str:
    contacts = await admin.contacts(args.account, inactive=args.inactive)
    headers = ["ID", "NAME", "TYPE", "EMAIL", "ACCOUNTS", "STATE"]
    return _listing(args, contacts, headers, [_contact_row(c) for c in contacts])


def _contact_row(c: Contact) -> list[str]:
    accounts = ",".join(c.account_ids)
    return [c.id, c.display_name, c.contact_type.value, str(c.email), accounts, _active(c.active)]


async def _list_staff(admin: DirectoryAdmin, args: argparse.Namespace) -> str:
    staff = await admin.staff(args.department, inactive=args.inactive)
    headers = ["ID", "NAME", "EMAIL", "DEPARTMENTS", "SUPERVISOR", "ON DUTY", "STATE"]
    return _listing(args, staff, headers, [_staff_row(s) for s in staff])


def _staff_row(s: StaffMember) -> list[str]:
    departments = ",".join(d.slug for d in s.departments)
    flags = ["yes" if s.supervisor else "no", "yes" if s.on_duty else "no", _active(s.active)]
    return [s.id, s.name, str(s.email), departments, *flags]


async def _list_tokens(admin: DirectoryAdmin, args: argparse.Namespace) -> str:
    tokens, now = await admin.tokens(args.subject_id), datetime.now(UTC)
    headers = ["TOKEN ID", "SUBJECT", "SCOPES", "EXPIRES", "STATE"]
    rows = [_token_row(t, now) for t in tokens]
    return _listing(args, tokens, headers, rows, hide={"sha256"})  # no hash in a listing


def _token_row(t: ApiToken, now: datetime) -> list[str]:
    expires = t.expires_at.isoformat() if t.expires_at else "never"
    subject = f"{t.subject_kind.value}:{t.subject_id}"
    return [t.token_id, subject, ",".join(t.scopes), expires, token_state(t, now)]


async def _add_account(admin: DirectoryAdmin, args: argparse.Namespace) -> str:
    account = Account(id=args.id, name=args.name, time_zone=args.time_zone)
    return _saved("account", account.id, await admin.save_account(account))


async def _add_contact(admin: DirectoryAdmin, args: argparse.Namespace) -> str:
    contact = contact_of(args)
    return _saved("contact", contact.id, await admin.save_contact(contact))


async def _add_staff(admin: DirectoryAdmin, args: argparse.Namespace) -> str:
    staff = staff_of(args)
    return _saved("staff member", staff.id, await admin.save_staff(staff))


async def _deactivate_contact(admin: DirectoryAdmin, args: argparse.Namespace) -> str:
    changed = await admin.deactivate_contact(args.id)
    return f"contact {args.id} " + ("deactivated" if changed else "was already inactive")


async def _deactivate_staff(admin: DirectoryAdmin, args: argparse.Namespace) -> str:
    changed = await admin.deactivate_staff(args.id)
    return f"staff member {args.id} " + ("deactivated" if changed else "was already inactive")


async def _issue_token(admin: DirectoryAdmin, args: argparse.Namespace) -> str:
    scopes = [TokenScope(s) for s in args.scope or list(TokenScope)]
    kind = ActorKind(args.subject_kind)
    issued = await admin.issue_token(kind, args.subject_id, scopes, expiry_of(args), args.token_id)
    _warn_once(issued)
    return _token_lines(issued)


async def _revoke_token(admin: DirectoryAdmin, args: argparse.Namespace) -> str:
    changed = await admin.revoke_token(args.token_id)
    return f"token {args.token_id} " + ("revoked" if changed else "was already revoked")


async def _bootstrap(admin: DirectoryAdmin, args: argparse.Namespace) -> str:
    done = await admin.bootstrap(bootstrap_staff_of(args), expiry_of(args))
    return _bootstrap_report(done, args.token_file)


COMMANDS: dict[str, Command] = {
    "list-accounts": _list_accounts,
    "list-contacts": _list_contacts,
    "list-staff": _list_staff,
    "list-tokens": _list_tokens,
    "add-account": _add_account,
    "add-contact": _add_contact,
    "add-staff": _add_staff,
    "deactivate-contact": _deactivate_contact,
    "deactivate-staff": _deactivate_staff,
    "issue-token": _issue_token,
    "revoke-token": _revoke_token,
    "bootstrap": _bootstrap,
}


# --- output ------------------------------------------------------------------------------


def _listing(
    args: argparse.Namespace,
    records: Sequence[BaseModel],
    headers: list[str],
    rows: list[Any],
    hide: set[str] | None = None,
) -> str:
    if args.json:
        return json.dumps([r.model_dump(mode="json", exclude=hide) for r in records], indent=2)
    if not rows:
        return "(none)"
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _active(active: bool) -> str:
    return "active" if active else "inactive"


def _saved(kind: str, record_id: str, changed: bool) -> str:
    return f"{kind} {record_id} " + ("saved" if changed else "unchanged")


def _token_lines(issued: IssuedToken) -> str:
    record = issued.record
    expires = record.expires_at.isoformat() if record.expires_at else "never"
    return (
        f"token_id={record.token_id}\nsubject={record.subject_kind.value}:{record.subject_id}\n"
        f"scopes={','.join(record.scopes)}\nexpires_at={expires}\ntoken={issued.secret}"
    )


def _warn_once(issued: IssuedToken) -> None:
    print(
        "The token is shown only this once (only its SHA-256 is stored); revoke it with "
        f"`python -m intake.cli revoke-token --token-id {issued.record.token_id}`.",
        file=sys.stderr,
    )


def _bootstrap_report(done: Bootstrap, token_file: Path | None) -> str:
    who = f"staff member {done.staff.id} <{done.staff.email}>"
    lines = [f"bootstrap: {who} " + ("created" if done.staff_created else "already exists")]
    if done.token is None:
        assert done.existing_token is not None
        state = token_state(done.existing_token, datetime.now(UTC))
        lines.append(
            f"bootstrap: token {done.existing_token.token_id} was issued on an earlier run "
            f"({state}); nothing to do. Issue more with `python -m intake.cli issue-token "
            f"--subject-kind staff --subject-id {done.staff.id}`."
        )
        return "\n".join(lines)
    if token_file is not None:
        _write_secret(token_file, done.token.secret)
        record = done.token.record
        lines.append(f"bootstrap: token {record.token_id} written to {token_file} (mode 600)")
        return "\n".join(lines)
    _warn_once(done.token)
    return "\n".join([*lines, _token_lines(done.token)])


def _write_secret(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secret + "\n")


def _failure(exc: Exception, settings: Settings) -> str:
    if isinstance(exc, DirectoryAdminError):
        return str(exc)
    if isinstance(exc, ValidationError):
        return "; ".join(_issue(e) for e in exc.errors())
    if isinstance(exc, PyMongoError):
        return "MongoDB is unreachable: check MONGO_URL (is the stack up? `make status`)"
    return (
        f"Kafka at {settings.kafka_bootstrap_servers} did not acknowledge: check "
        "KAFKA_BOOTSTRAP_SERVERS (is the stack up? `make status`)"
    )


def _issue(error: Any) -> str:
    field = "--" + str(error["loc"][-1]).replace("_", "-") if error.get("loc") else "a value"
    return f"{field}: {error['msg']}"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: exit 0 when done, 1 when refused or unreachable, 2 on bad arguments."""
    args = parser().parse_args(argv)
    settings = Settings()
    try:
        output = asyncio.run(run(args, settings))
    except (DirectoryAdminError, ValidationError, PyMongoError) as exc:
        raise SystemExit(f"intake.cli: error: {_failure(exc, settings)}") from None
    except (KafkaError, Unavailable, OSError) as exc:
        raise SystemExit(f"intake.cli: error: {_failure(exc, settings)}") from None
    print(output)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
