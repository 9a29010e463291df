"""The directory seed: accounts, contacts, staff and tokens, published and stored idempotently."""

import json
import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from intake.producer import EventPublisher
from intake.settings import Settings
from shared.directory import DirectoryStore, directory_key, hash_token
from shared.enums import ActorKind
from shared.events import (
    Account,
    AccountUpserted,
    AnyDirectoryEvent,
    ApiToken,
    Contact,
    ContactUpserted,
    StaffMember,
    StaffUpserted,
    TokenIssued,
)
from shared.settings import LOCAL_SECRET_PREFIX, ProductionSettingsError

log = logging.getLogger("intake.seed")


class SeedToken(BaseModel):
    """A fixed local-development token; only its SHA-256 leaves this file."""

    model_config = ConfigDict(extra="ignore")

    token_id: str = Field(min_length=1, max_length=64)
    token: str = Field(min_length=16)
    subject_kind: ActorKind
    subject_id: str


class Seed(BaseModel):
    """The seed file's content."""

    model_config = ConfigDict(extra="ignore")

    accounts: list[Account] = []
    contacts: list[Contact] = []
    staff: list[StaffMember] = []
    tokens: list[SeedToken] = []


class SeedError(ValueError):
    """The seed file named in the settings cannot be read or parsed."""


def read_seed(path: str | Path) -> Seed:
    """Parse a seed file."""
    return Seed.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))


def local_tokens(seed: Seed) -> list[str]:
    """Ids of the seed's tokens that are published local-development values."""
    return [t.token_id for t in seed.tokens if t.token.startswith(LOCAL_SECRET_PREFIX)]


def startup_seed(settings: Settings) -> Seed | None:
    """The seed intake will load, read at start-up so a bad or refused file stops the start.

    Production refuses a seed carrying local-development tokens: they are public (they are in
    the repository), so anyone could act as the people they belong to.
    """
    path = settings.seed_path
    if path is None:
        return None
    try:
        seed = read_seed(path)
    except (OSError, ValueError, ValidationError) as exc:
        raise SeedError(f"INTAKE_SEED_FILE={path} cannot be loaded: {exc}") from exc
    public = local_tokens(seed)
    if settings.environment == "production" and public:
        raise ProductionSettingsError(_public_seed_refusal(path, public))
    return seed


def _public_seed_refusal(path: Path, public: list[str]) -> str:
    shown = ", ".join(public[:3]) + (f" and {len(public) - 3} more" if len(public) > 3 else "")
    return (
        f"ENVIRONMENT=production refuses to start: the directory seed {path} holds public "
        f"local-development tokens ({shown}; tokens starting {LOCAL_SECRET_PREFIX!r}). "
        "Unset INTAKE_SEED_FILE (production loads no seed unless one is named) or name a "
        "directory file without them, and issue tokens with `python -m intake.cli issue-token`."
    )


def seed_events(seed: Seed) -> list[AnyDirectoryEvent]:
    """Directory events for everything in the seed, accounts first."""
    events: list[AnyDirectoryEvent] = [AccountUpserted(account=a) for a in seed.accounts]
    events += [ContactUpserted(contact=c) for c in seed.contacts]
    events += [StaffUpserted(staff=s) for s in seed.staff]
    events += [TokenIssued(token=_api_token(t)) for t in seed.tokens]
    return events


def _api_token(token: SeedToken) -> ApiToken:
    return ApiToken(
        token_id=token.token_id,
        sha256=hash_token(token.token),
        subject_kind=token.subject_kind,
        subject_id=token.subject_id,
    )


async def publish_directory(
    events: list[AnyDirectoryEvent],
    topic: str,
    directory: DirectoryStore,
    publisher: EventPublisher,
) -> int:
    """Publish (acks=all) and store the events whose record differs from the stored one."""
    changed = [event for event in events if not await _stored(directory, event)]
    for event in changed:
        await publisher.publish(topic, directory_key(event), [event])
        await directory.apply(event)
    return len(changed)


async def load_seed(
    seed: Seed, topic: str, directory: DirectoryStore, publisher: EventPublisher
) -> int:
    """Load the seed idempotently: an unchanged record is not published again."""
    count = await publish_directory(seed_events(seed), topic, directory, publisher)
    log.info("directory seed: %d records published", count)
    return count


async def _stored(directory: DirectoryStore, event: AnyDirectoryEvent) -> bool:
    match event:
        case AccountUpserted():
            return await directory.account(event.account.id) == event.account
        case ContactUpserted():
            return await directory.contact(event.contact.id) == event.contact
        case StaffUpserted():
            return await directory.staff(event.staff.id) == event.staff
        case TokenIssued():
            doc = await directory.tokens.find_one({"_id": event.token.token_id})
            return doc is not None and ApiToken.model_validate(doc) == event.token
