"""Settings of the status board; it runs with every other part of the system down."""

import socket
from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from shared.settings import LOCAL_DOCS_URLS as SHARED_DOCS_URLS
from shared.settings import ServiceSettings, named, refuse_local_secrets, service_config

LOCAL_ADMIN_TOKEN = "local-status-admin-token"  # well known: in the README and the compose file
MIN_TOKEN_LENGTH = 24
# The other services' docs: the board links its own two from its own addresses.
LOCAL_DOCS_URLS = {
    name: url for name, url in SHARED_DOCS_URLS.items() if not name.startswith("status board")
}


class Settings(ServiceSettings):
    """Status board settings, from the environment: `STATUS_BOARD_<FIELD>` unless named so."""

    # Its Mongo database setting stays MONGO_DATABASE, as it was (the board uses no Mongo).
    model_config = service_config("STATUS_BOARD_", own=("http_port",))

    service_name: str = "status_board"
    # Refused in production when unset or local; the board uses no Mongo, so not mongo_url.
    required_secrets: ClassVar[tuple[str, ...]] = ("admin_token",)
    http_port: int = Field(8004, validation_alias=named("STATUS_BOARD_PORT", "http_port"))
    admin_port: int = 8014
    data_dir: Path = Path(".stack/data/status-board")
    export_dir: Path | None = Field(
        None,
        description="Where the public page, Atom feed, JSON and banner are also written as"
        " files for a static host or CDN (each atomically, on every change); off when unset.",
    )
    admin_token: SecretStr = Field(
        SecretStr(LOCAL_ADMIN_TOKEN),
        description=f"Bearer token of the admin API: at least {MIN_TOKEN_LENGTH} characters.",
    )
    time_zone: str = "America/Chicago"
    replica_id: str = Field(
        default_factory=socket.gethostname,
        description="Suffix of this replica's consumer group: each replica reads the whole topic.",
    )
    public_url: str = Field(
        "http://127.0.0.1:8004",
        description="Where the public page is reached; banner links and Atom ids use it.",
    )
    portal_url: str = Field("", description="Home link.")
    docs_urls: dict[str, str] = Field(
        default_factory=lambda: dict(LOCAL_DOCS_URLS),
        description="The other services' API docs (a JSON object), linked from the board's docs.",
    )
    stale_after_s: float = Field(
        60.0,
        description="Live updates count as delayed when Kafka was not heard from for this long.",
    )
    heartbeat_s: float = 5.0
    maintenance_tick_s: float = 5.0
    retry_max_s: float = Field(
        5.0,
        description="Longest pause between attempts to reach Kafka; it is retried forever.",
    )
    closed_limit: int = Field(
        100,
        description="How many closed notices the Closed tab, feed and JSON list show.",
    )

    @field_validator("export_dir", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _admin_token_is_a_secret(self) -> Self:
        problem = admin_token_problem(self.admin_token.get_secret_value())
        if problem is not None:
            raise ValueError(problem)
        refuse_local_secrets(self, self.required_secrets)
        return self

    @property
    def group_id(self) -> str:
        """This replica's consumer group: `status_board.<replica>`."""
        return f"{self.service_name}.{self.replica_id}"

    @property
    def admin_url(self) -> str:
        """Where the admin API listens (it is never published beyond this host's network)."""
        return f"http://{self.http_host}:{self.admin_port}"

    @property
    def docs_links(self) -> dict[str, str]:
        """The docs pages its description links: the other services' and the board's own two."""
        return self.docs_urls | {
            "status board": f"{self.public_url.rstrip('/')}/api/docs",
            "status board admin": f"{self.admin_url}/docs",
        }

    @property
    def db_path(self) -> Path:
        """The SQLite file that holds the snapshot and the outbox."""
        return self.data_dir / "status-board.sqlite3"


def admin_token_problem(token: str) -> str | None:
    """Why this admin token is too weak to open the admin API anywhere, or None."""
    length = len(token.strip())
    if length < MIN_TOKEN_LENGTH:
        return (
            f"STATUS_BOARD_ADMIN_TOKEN must be a secret of at least {MIN_TOKEN_LENGTH}"
            f" characters (it has {length}); e.g. `openssl rand -hex 24`"
        )
    return None
