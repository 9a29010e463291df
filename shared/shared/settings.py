"""Typed settings: infrastructure endpoints shared by every process, with local defaults."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Literal, TypeVar, cast

from pydantic import AliasChoices, AliasGenerator, BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.topics import Topics

LOCAL_MONGO_URL = "mongodb://127.0.0.1:27017/?directConnection=true&retryWrites=false"
# Every secret this repository ships for local use starts so (seed tokens, default tokens).
LOCAL_SECRET_PREFIX = "local-"
# Published local values that do not carry the prefix.
KNOWN_LOCAL_SECRETS = frozenset({LOCAL_MONGO_URL})
MIN_SECRET_LENGTH = 16
# The local stack's API docs pages (README's port table), linked from each service's docs page.
LOCAL_DOCS_URLS = {
    "intake": "http://127.0.0.1:8001/docs",
    "routing": "http://127.0.0.1:8002/docs",
    "feed": "http://127.0.0.1:8003/docs",
    "status board": "http://127.0.0.1:8004/api/docs",
    "status board admin": "http://127.0.0.1:8014/docs",
}


class InfraSettings(BaseSettings):
    """Where Kafka, the Mongo server and SMTP are; every field has a local default."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    # `production` makes every service refuse well-known local secrets and missing secrets.
    environment: Literal["local", "production"] = "local"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    mongo_url: SecretStr = SecretStr(LOCAL_MONGO_URL)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    topic_namespace: str = ""
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    @property
    def topics(self) -> Topics:
        """Topic names under this deployment's namespace."""
        return Topics(self.topic_namespace)


class ServiceSettings(InfraSettings):
    """Settings of one service process; subclasses set the name, port and database defaults."""

    service_name: str = "service"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    mongo_database: str = "portal"
    kafka_partitions: int = 6
    # Request limits of the HTTP server (shared.http.HttpLimits): head size and time, body pace.
    http_max_head_bytes: int = Field(32 * 1024, ge=1024)
    http_head_timeout_s: float = Field(10.0, gt=0)
    http_body_timeout_s: float = Field(20.0, gt=0)
    http_body_min_rate: int = Field(8 * 1024, ge=1)
    # Settings `serve()` refuses in production when unset or local (see refuse_local_secrets).
    required_secrets: ClassVar[tuple[str, ...]] = ("mongo_url",)

    @property
    def group_id(self) -> str:
        """The consumer group: the service name, or `<namespace>.<service>` under a namespace.

        Members of one group rebalance together whatever topics they read, so test runs and
        benchmarks sharing a broker must not share the group.
        """
        prefix = f"{self.topic_namespace}." if self.topic_namespace else ""
        return f"{prefix}{self.service_name}"

    @property
    def directory_group_id(self) -> str:
        """The directory subscriber's own group, so its rebalances never pause the main one."""
        return f"{self.group_id}.directory"


def service_config(
    prefix: str, *, own: Iterable[str] = ("http_port", "mongo_database")
) -> SettingsConfigDict:
    """A service's settings config: its own fields read as `<prefix><FIELD>`, the rest of
    ServiceSettings (KAFKA_BOOTSTRAP_SERVERS, MONGO_URL, HTTP_HOST, ...) under their own names.

    env_prefix applies only to fields without an alias, so each shared field is its own alias;
    `own` names the shared fields a service reads under its prefix (or an alias of its own).
    """
    shared = frozenset(ServiceSettings.model_fields) - frozenset(own)

    def alias(name: str) -> AliasChoices | None:
        return AliasChoices(name) if name in shared else None

    return SettingsConfigDict(
        env_prefix=prefix,
        # pydantic takes None from a generator as "no alias"; its annotation does not say so.
        alias_generator=AliasGenerator(validation_alias=cast(Callable[[str], AliasChoices], alias)),
        # Only the aliases name an aliased field: by name it would also be read from
        # <prefix><FIELD> (FEED_KAFKA_BOOTSTRAP_SERVERS overriding the shared setting).
        populate_by_name=False,
        validate_by_name=False,
    )


def named(variable: str, field: str) -> AliasChoices:
    """A variable whose name is not the prefix + the field's (kept as it was published)."""
    return AliasChoices(variable, field)


class ProductionSettingsError(ValueError):
    """A production process was given a missing, short or well-known local secret."""


def refuse_local_secrets(settings: InfraSettings, names: Iterable[str]) -> None:
    """In production, refuse each named setting that is unset, short or a well-known local value.

    Call it at start-up, before anything connects. Raises ProductionSettingsError naming
    every offending setting by its environment variable; in local mode it does nothing.
    """
    if settings.environment != "production":
        return
    problems = [
        f"{env_name(settings, name)} {problem}"
        for name in names
        if (problem := _secret_problem(settings, name)) is not None
    ]
    if problems:
        raise ProductionSettingsError(
            "ENVIRONMENT=production refuses to start: "
            + "; ".join(problems)
            + ". Set each to a secret of your deployment (or use ENVIRONMENT=local)."
        )


def _secret_problem(settings: BaseModel, name: str) -> str | None:
    raw = getattr(settings, name)
    value = raw.get_secret_value() if isinstance(raw, SecretStr) else raw
    value = "" if value is None else str(value).strip()
    if not value:
        return "is missing or empty"
    if name not in settings.model_fields_set:
        return "is not set (the built-in default is for local use only)"
    if value.startswith(LOCAL_SECRET_PREFIX) or value in KNOWN_LOCAL_SECRETS:
        return "holds a well-known local value"
    if isinstance(raw, SecretStr) and len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    return None


def env_name(settings: BaseModel | type[BaseModel], name: str) -> str:
    """The environment variable a setting is read from (its first alias, else its name)."""
    model = settings if isinstance(settings, type) else type(settings)
    field = model.model_fields[name]
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        alias = next((choice for choice in alias.choices if isinstance(choice, str)), None)
    if isinstance(alias, str):
        return alias.upper()
    return f"{model.model_config.get('env_prefix', '')}{field.alias or name}".upper()


Loaded = TypeVar("Loaded", bound=ServiceSettings)


def load_settings(cls: type[Loaded]) -> Loaded:
    """A process's settings from the environment, or exit saying which variable is wrong and
    why, in plain words: no traceback, and no value (it may be a secret)."""
    try:
        return cls()
    except ValidationError as exc:
        reasons = "; ".join(_reason(cls, error) for error in exc.errors())
        service = cls.model_fields["service_name"].default
        raise SystemExit(f"{service}: not starting: {reasons}") from None


def _reason(cls: type[BaseModel], error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    loc = tuple(str(part) for part in error.get("loc", ()))
    if not loc:
        return message
    head = loc[0]
    variable = env_name(cls, head) if head in cls.model_fields else head.upper()
    return f"{'.'.join((variable, *loc[1:]))}: {message}"
