"""The sent log's leased claims on the real Mongo-wire server: one owner per mail at a time."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from uuid import uuid4

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from notify.models import Mail
from notify.store import SentStatus, SentStore
from shared.settings import InfraSettings

LIVE = timedelta(seconds=60)
ENDED = timedelta(seconds=-1)  # a claim whose lease is already over: its sender stopped


@pytest.fixture
async def db(infra: InfraSettings) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A database of this test's own, dropped afterwards."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        infra.mongo_url.get_secret_value(), retryWrites=False
    )
    name = f"notify_sent_{uuid4().hex[:8]}"
    yield client[name]
    await client.drop_database(name)
    await client.close()


def _mails(n: int) -> list[Mail]:
    mails = []
    for k in range(n):
        message = EmailMessage()
        message["Message-ID"] = f"<m{k}@test.invalid>"
        mails.append(Mail(uuid4(), f"p{k}@example.org", f"<m{k}@test.invalid>", "t", message))
    return mails


async def test_two_concurrent_claimers_get_each_mail_once(db: AsyncDatabase[Any]) -> None:
    """Two senders claiming the same mails at once: every mail is one's, the other's held."""
    first, second = SentStore(db, "first", LIVE), SentStore(db, "second", LIVE)
    mails = _mails(30)
    a, b = await asyncio.gather(first.claim(mails), second.claim(mails))
    mine_a, mine_b = {m.key for m in a.mine}, {m.key for m in b.mine}
    assert mine_a.isdisjoint(mine_b)
    assert mine_a | mine_b == {m.key for m in mails}
    assert {m.key for m in a.held} == mine_b
    assert {m.key for m in b.held} == mine_a


async def test_a_live_claim_is_not_taken_over(db: AsyncDatabase[Any]) -> None:
    """A claim whose lease runs is held for another sender, and its fence stays closed to it."""
    owner, other = SentStore(db, "owner", LIVE), SentStore(db, "other", LIVE)
    mails = _mails(2)
    await owner.claim(mails)
    await owner.begin_data([mails[0].key])
    claims = await other.claim(mails)
    assert (claims.mine, claims.held) == ([], mails)
    assert await other.begin_data([m.key for m in mails]) == set()
    assert await owner.begin_data([m.key for m in mails]) == {m.key for m in mails}


async def test_an_expired_claim_is_taken_over_and_classified(db: AsyncDatabase[Any]) -> None:
    """A stopped sender's claims are taken over: before DATA as safe, after DATA as in doubt;
    the stopped sender can no longer finish them, and sent ones are left alone."""
    crashed, restarted = SentStore(db, "crashed", ENDED), SentStore(db, "restarted", LIVE)
    never, in_doubt, done = _mails(3)
    await crashed.claim([never, in_doubt, done])
    await crashed.begin_data([in_doubt.key])
    await crashed.mark([done.key], SentStatus.SENT)
    claims = await restarted.claim([never, in_doubt, done])
    assert (claims.resumed, claims.in_doubt, claims.held) == ([never], [in_doubt], [])
    assert claims.mine == [never, in_doubt]
    assert await crashed.begin_data([in_doubt.key]) == set()
    keys = [never.key, in_doubt.key, done.key]
    assert await restarted.begin_data(keys) == {never.key, in_doubt.key}


async def test_two_claimers_race_for_an_expired_claim_and_one_wins(
    db: AsyncDatabase[Any],
) -> None:
    """Many senders taking over the same expired claims at once: each goes to exactly one."""
    await SentStore(db, "crashed", ENDED).claim(mails := _mails(20))
    rivals = [SentStore(db, f"rival-{n}", LIVE) for n in range(4)]
    results = await asyncio.gather(*(rival.claim(mails) for rival in rivals))
    winners = [m.key for claims in results for m in claims.mine]
    assert sorted(winners) == sorted(m.key for m in mails)


async def test_released_and_renewed_leases(db: AsyncDatabase[Any]) -> None:
    """A released live claim is free at once; renewing an ended lease makes it live again."""
    live, ending = SentStore(db, "owner", LIVE), SentStore(db, "owner", ENDED)
    other = SentStore(db, "other", LIVE)
    released, renewed = _mails(2)
    await live.claim([released])
    await ending.claim([renewed])
    await live.release([released.key])
    await live.renew([renewed.key])
    claims = await other.claim([released, renewed])
    assert (claims.mine, claims.held) == ([released], [renewed])


async def test_a_release_puts_mails_never_sent_back_to_sending_and_leaves_the_rest_in_doubt(
    db: AsyncDatabase[Any],
) -> None:
    """Released after `data`: an unsent one is resumed by the next sender, the other in doubt;
    a claim that is not ours is left as it is."""
    mine, theirs = SentStore(db, "mine", LIVE), SentStore(db, "theirs", LIVE)
    unsent, doubtful, foreign = _mails(3)
    await mine.claim([unsent, doubtful])
    await theirs.claim([foreign])
    await mine.begin_data([unsent.key, doubtful.key])
    await theirs.begin_data([foreign.key])
    await mine.release([unsent.key, doubtful.key, foreign.key], unsent=[unsent.key, foreign.key])
    claims = await SentStore(db, "next", LIVE).claim([unsent, doubtful, foreign])
    assert (claims.resumed, claims.in_doubt, claims.held) == ([unsent], [doubtful], [foreign])


async def test_data_and_sent_go_in_one_write_and_a_lost_claim_is_reported(
    db: AsyncDatabase[Any],
) -> None:
    """`advance` moves our keys to `data` and others to `sent`; a key not ours is left alone."""
    mine, theirs = SentStore(db, "mine", LIVE), SentStore(db, "theirs", LIVE)
    fenced, finished, foreign = _mails(3)
    await mine.claim([fenced, finished])
    await theirs.claim([foreign])
    ours = await mine.advance([fenced.key, foreign.key], [finished.key])
    assert ours == {fenced.key}
    statuses = await mine.statuses([fenced.key, finished.key, foreign.key])
    assert statuses == {fenced.key: "data", finished.key: "sent", foreign.key: "sending"}
