"""Token scopes and expiry in the directory's bearer auth: read-only tokens and expired tokens."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI

from shared.directory import DirectoryStore, Principal, bearer_auth, hash_token
from shared.enums import ActorKind, TokenScope
from shared.events import ApiToken, StaffMember, StaffUpserted
from shared.problems import install_problems

PAT = StaffMember(id="pat", name="Pat", email="pat@example.org", departments=["Campus Support"])


class FakeCollection:
    """The find_one of a Mongo collection over documents matched field by field."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        return next((d for d in self.docs if all(d.get(k) == v for k, v in query.items())), None)


def store_with(*tokens: ApiToken, kind: type[DirectoryStore] = DirectoryStore) -> DirectoryStore:
    """A directory holding Pat and the given tokens, no database behind it."""
    collections = {
        "dir_tokens": FakeCollection([t.model_dump(mode="json") for t in tokens]),
        "dir_staff": FakeCollection([{**PAT.model_dump(mode="json"), "_id": PAT.id}]),
        "dir_contacts": FakeCollection([]),
        "dir_accounts": FakeCollection([]),
    }
    return kind(collections)  # type: ignore[arg-type]


def token(secret: str, **extra: Any) -> ApiToken:
    """A token record of Pat's."""
    return ApiToken(
        token_id=f"tok-{secret}",
        sha256=hash_token(secret),
        subject_kind=ActorKind.STAFF,
        subject_id="pat",
        **extra,
    )


async def test_a_token_without_scopes_or_expiry_keeps_working_as_before() -> None:
    """A record published before scopes existed reads as read and write, never expiring."""
    record = ApiToken.model_validate(
        {"token_id": "t", "sha256": "0" * 64, "subject_kind": "staff", "subject_id": "pat"}
    )
    assert record.scopes == [TokenScope.READ, TokenScope.WRITE]
    assert record.expires_at is None


async def test_an_expired_token_authenticates_nobody() -> None:
    """A token whose expiry has passed resolves to no principal; one still valid does."""
    past = datetime.now(UTC) - timedelta(minutes=1)
    future = datetime.now(UTC) + timedelta(days=1)
    store = store_with(token("old", expires_at=past), token("new", expires_at=future))
    assert await store.principal_for("old") is None
    principal = await store.principal_for("new")
    assert principal is not None
    assert principal.id == "pat"


async def test_a_cached_principal_is_refused_once_its_token_expires() -> None:
    """The 30 s cache never stretches a token's life past its expiry."""
    store = store_with(token("soon", expires_at=datetime.now(UTC) + timedelta(days=1)))
    principal = await store.principal_for("soon")
    assert principal is not None
    digest = hash_token("soon")
    expired = principal.model_copy(update={"expires_at": datetime.now(UTC) - timedelta(1)})
    store._cache[digest] = (store._cache[digest][0], expired)
    assert await store.principal_for("soon") is None


def app_for(store: DirectoryStore) -> FastAPI:
    """A two-route app behind the shared bearer auth."""
    app = FastAPI()
    install_problems(app)
    Caller = Annotated[Principal, Depends(bearer_auth(lambda: store))]

    @app.get("/thing")
    async def read(who: Caller) -> dict[str, str]:
        return {"id": who.id}

    @app.post("/thing")
    async def write(who: Caller) -> dict[str, str]:
        return {"id": who.id}

    return app


async def test_a_read_scoped_token_reads_but_cannot_change_anything() -> None:
    """GET works with a read-only token; POST is 403 naming the scope it needs."""
    store = store_with(token("reader", scopes=[TokenScope.READ]), token("writer"))
    transport = httpx.ASGITransport(app=app_for(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        reader = {"Authorization": "Bearer reader"}
        assert (await http.get("/thing", headers=reader)).status_code == 200
        refused = await http.post("/thing", headers=reader)
        writer = await http.post("/thing", headers={"Authorization": "Bearer writer"})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "'write'" in refused.json()["detail"]
    assert writer.status_code == 200


class NoWrites(DirectoryStore):
    """A directory whose upserts do nothing, to watch its token cache."""

    async def _upsert(self, collection: Any, key: str, record: Any, event: Any) -> None:
        return None


async def test_a_changed_person_empties_the_token_cache() -> None:
    """A deactivated staff member's cached token is looked up again, not served for 30 s."""
    store = store_with(token("pat"), kind=NoWrites)
    assert await store.principal_for("pat") is not None
    assert store._cache
    await store.apply(StaffUpserted(staff=PAT.model_copy(update={"active": False})))
    assert not store._cache
