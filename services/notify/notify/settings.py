"""Settings of the notify service; every field has a local default."""

from pydantic import AliasChoices, Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """Notify settings, from the environment."""

    service_name: str = "notify"
    http_port: int = Field(8005, validation_alias=AliasChoices("NOTIFY_PORT", "http_port"))
    mongo_database: str = Field(
        "notify", validation_alias=AliasChoices("NOTIFY_MONGO_DATABASE", "mongo_database")
    )
