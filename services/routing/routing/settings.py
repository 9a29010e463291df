"""Settings of the routing service; every field has a local default."""

from pydantic import AliasChoices, Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """Routing settings, from the environment."""

    service_name: str = "routing"
    http_port: int = Field(8002, validation_alias=AliasChoices("ROUTING_PORT", "http_port"))
    mongo_database: str = Field(
        "routing", validation_alias=AliasChoices("ROUTING_MONGO_DATABASE", "mongo_database")
    )
