"""`python -m intake.cli`: add a contact, issue or revoke a bearer token (Kafka and local store)."""

import argparse
import asyncio
import sys
from collections.abc import Sequence

from intake.producer import EventPublisher
from intake.seed import publish_directory
from intake.settings import Settings
from shared.directory import DirectoryStore, hash_token, new_token
from shared.enums import ActorKind, AreaOfResponsibility, ContactType
from shared.events import AnyDirectoryEvent, ApiToken, Contact, ContactUpserted, TokenIssued
from shared.kafka import ensure_topics
from shared.mongo import mongo_client


def parser() -> argparse.ArgumentParser:
    """The command line."""
    top = argparse.ArgumentParser(prog="python -m intake.cli", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
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
    issue = commands.add_parser("issue-token", help="issue a bearer token; prints it once")
    issue.add_argument("--subject-kind", choices=["contact", "staff"], default="contact")
    issue.add_argument("--subject-id", required=True)
    issue.add_argument("--token-id", help="defaults to a new random id")
    revoke = commands.add_parser("revoke-token", help="revoke a token by its id")
    revoke.add_argument("--token-id", required=True)
    return top


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


async def run(args: argparse.Namespace, settings: Settings) -> str:
    """Carry out one command; returns what to print."""
    mongo = mongo_client(settings)
    directory = DirectoryStore(mongo[settings.mongo_database])
    publisher = EventPublisher(
        settings.kafka_bootstrap_servers, "intake-cli", settings.publish_timeout_ms, 0
    )
    await ensure_topics(settings.kafka_bootstrap_servers, settings.topics.all_specs())
    await publisher.start()
    try:
        event, output = await _event(args, directory)
        await publish_directory([event], settings.topics.directory, directory, publisher)
        return output
    finally:
        await publisher.stop()
        await mongo.close()


async def _event(
    args: argparse.Namespace, directory: DirectoryStore
) -> tuple[AnyDirectoryEvent, str]:
    if args.command == "add-contact":
        contact = contact_of(args)
        return ContactUpserted(contact=contact), f"contact {contact.id} saved"
    if args.command == "issue-token":
        token = new_token()
        api_token = ApiToken(
            token_id=args.token_id or f"tok-{new_token()[:12]}",
            sha256=hash_token(token),
            subject_kind=ActorKind(args.subject_kind),
            subject_id=args.subject_id,
        )
        return TokenIssued(token=api_token), f"token_id={api_token.token_id}\ntoken={token}"
    doc = await directory.tokens.find_one({"_id": args.token_id})
    if doc is None:
        raise SystemExit(f"no token {args.token_id!r}; list tokens in the dir_tokens collection")
    revoked = ApiToken.model_validate({**doc, "revoked": True})
    return TokenIssued(token=revoked), f"token {args.token_id} revoked"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    args = parser().parse_args(argv)
    print(asyncio.run(run(args, Settings())))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
