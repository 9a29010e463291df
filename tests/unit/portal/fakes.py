"""Fakes for the portal's pages: the directory, the identity provider, intake and feed."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from portal.errors import CaseNotFound, Refused
from portal.handlers import Directory
from portal.models import LoginState, Person
from portal.service import Api, CookieCodec, Oidc, Portal
from portal.settings import Settings

from shared.enums import ContactType
from shared.events import Account, AccountUpserted, Contact, ContactUpserted
from shared.identity import IdentityKeys

SETTINGS = Settings(read_your_writes_s=0.0)


def contact(cid: str, first: str, last: str, kind: ContactType, accounts: list[str]) -> Contact:
    """A directory contact."""
    return Contact(
        id=cid,
        first_name=first,
        last_name=last,
        email=f"{cid}@bayside.example",
        title="Tester",
        primary_phone="555-0100",
        contact_type=kind,
        areas_of_responsibility=["SIS"],
        account_ids=accounts,
        active=True,
    )


def directory() -> Directory:
    """Bayside and Ridgemont with an authorized, a read-only and a two-district contact."""
    found = Directory()
    found.apply(AccountUpserted(account=Account(id="bayside", name="Bayside School (TESTING)")))
    found.apply(AccountUpserted(account=Account(id="ridgemont", name="Ridgemont High (TESTING)")))
    for person in (
        contact("zack", "Zack", "Morris (TESTING)", ContactType.AUTHORIZED_SUPPORT, ["bayside"]),
        contact("screech", "Samuel", "Powers (TESTING)", ContactType.READ_ONLY, ["bayside"]),
        contact("slater", "Albert", "Slater", ContactType.IMPLEMENTATION, ["bayside", "ridgemont"]),
    ):
        found.apply(ContactUpserted(contact=person))
    return found


CASE: dict[str, Any] = {
    "case_id": "0b6f3c1e-0000-4000-8000-000000000001",
    "number": 1227963,
    "subject": "Snow Day",
    "status": "New",
    "priority": "Medium",
    "module": "Calendar (terms, periods, days)",
    "case_type": "Ask a Question",
    "account_id": "bayside",
    "account_name": "Bayside School (TESTING)",
    "contact_id": "zack",
    "contact_name": "Zack Morris (TESTING)",
    "owner": {"kind": "department", "name": "Implementation"},
    "created_at": "2021-09-15T18:37:00Z",
    "last_modified": "2021-09-15T18:37:00Z",
    "last_modified_local": "09/15/2021 - 01:37 PM CDT",
    "created_local": "09/15/2021 - 01:37 PM CDT",
    "closed": False,
    "description": "How do I add a snow day to the calendar?",
    "details": {
        "case_type": "Ask a Question",
        "location_within_product": "System Admin > Calendar",
    },
    "created_by": {"name": "Zack Morris (TESTING)"},
    "last_modified_by": "Zack Morris (TESTING)",
    "attachments": [],
    "feed": {
        "total": 1,
        "page": 1,
        "page_size": 50,
        "pages": 1,
        "sort": "newest",
        "items": [
            {
                "item_id": "e1",
                "kind": "activity",
                "at": "2021-09-15T18:37:00Z",
                "at_local": "09/15/2021 - 01:37 PM CDT",
                "actor": {"id": "zack"},
                "headline": "Zack Morris (TESTING) (Customer) created this case.",
                "lines": [],
            }
        ],
    },
}


class FakeApi(Api):
    """intake and feed in memory: one case, posts appended to its feed."""

    def __init__(self) -> None:
        super().__init__(
            SETTINGS, IdentityKeys("unit-test-key-unit-test-key-unit"), httpx.AsyncClient()
        )
        self.calls: list[tuple[str, str, Any]] = []
        self.case = dict(CASE)

    async def feed(self, person: Person, path: str, params: Mapping[str, str] | None = None) -> Any:
        self.calls.append(("GET", path, dict(params or {})))
        if path == "/banner":
            return {
                "state": "incident",
                "color": "orange",
                "title": "Digicert Incident",
                "status": "Investigating",
                "link": "http://board/notifications",
            }
        if path == "/cases":
            summary = {k: v for k, v in self.case.items() if k != "feed"}
            return {"total": 1, "page": 1, "page_size": 20, "pages": 1, "items": [summary]}
        if path.startswith("/cases/1227963"):
            return self.case["feed"] if path.endswith("/feed") else self.case
        raise CaseNotFound(f"no case {path}")

    async def intake(self, method: str, person: Person, path: str, **kwargs: Any) -> Any:
        self.calls.append((method, path, kwargs))
        if path == "/directory/contacts":
            return {
                "account_id": "bayside",
                "account_name": "Bayside",
                "contacts": [
                    {
                        "contact_id": "zack",
                        "name": "Zack Morris (TESTING)",
                        "contact_type": "Authorized Support",
                    },
                    {
                        "contact_id": "lisa",
                        "name": "Lisa Turtle (TESTING)",
                        "contact_type": "Technical",
                    },
                ],
            }
        if path.endswith("/recipients"):
            owner = {
                "contact_id": "zack",
                "name": "Zack Morris (TESTING)",
                "owner": True,
                "contact_type": "Authorized Support",
            }
            return {"case_id": CASE["case_id"], "recipients": [owner]}
        if path == "/cases":
            body = kwargs["json"]
            if not body.get("subject"):
                raise Refused(
                    "subject is required",
                    [{"field": "subject", "rule": "missing", "message": "subject is required"}],
                )
            return {"case_id": CASE["case_id"], "case_number": 1227963}
        if path.endswith("/posts"):
            body = kwargs["data"]["body"]
            if not body.strip():
                raise Refused("body must not be blank", [])
            item = {
                "item_id": "p1",
                "kind": "post",
                "at": datetime.now(UTC).isoformat(),
                "at_local": "now",
                "actor": {"id": person.contact_id},
                "headline": f"{person.name} (Customer)",
                "body_html": f"<p>{body}</p>",
                "lines": [],
                "attachments": [],
            }
            self.case["feed"] = {**self.case["feed"], "items": [item, *self.case["feed"]["items"]]}
            return {"post_id": "p1", "body_html": f"<p>{body}</p>", "attachments": []}
        raise AssertionError(f"unexpected call {method} {path}")


class FakeOidc(Oidc):
    """An identity provider that vouches for whatever email the test chose."""

    def __init__(self) -> None:
        super().__init__(SETTINGS, httpx.AsyncClient())
        self.email = "zack@bayside.example"

    async def begin(self, next_path: str) -> tuple[str, LoginState]:
        login = LoginState(
            state="st",
            nonce="n",
            code_verifier="v" * 43,
            next_path=next_path,
            expires_at=2_000_000_000,
        )
        return "http://idp.example/authorize?state=st", login

    async def email_of(self, code: str, login: LoginState) -> str:
        return self.email


class FakeMailer:
    """Keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def send(self, to: str, subject: str, text: str) -> None:
        self.sent.append((to, subject, text))


class FakeLinks:
    """Used link ids in memory."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    async def use(self, link_id: str, expires_at: datetime) -> bool:
        if link_id in self.used:
            return False
        self.used.add(link_id)
        return True


def portal() -> Portal:
    """A portal on the fakes."""
    cookies = CookieCodec(SETTINGS.session_secret.get_secret_value())
    return Portal(SETTINGS, directory(), FakeOidc(), FakeApi(), cookies, FakeLinks(), FakeMailer())
