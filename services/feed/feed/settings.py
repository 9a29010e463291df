"""Settings of the feed service; every field has a local default."""

from pydantic import AliasChoices, Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """Feed settings, from the environment."""

    service_name: str = "feed"
    http_port: int = Field(8003, validation_alias=AliasChoices("FEED_PORT", "http_port"))
    mongo_database: str = Field(
        "feed", validation_alias=AliasChoices("FEED_MONGO_DATABASE", "mongo_database")
    )
