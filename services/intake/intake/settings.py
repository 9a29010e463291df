"""Settings of the intake service; every field has a local default."""

from pydantic import AliasChoices, Field

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """Intake settings, from the environment."""

    service_name: str = "intake"
    http_port: int = Field(8001, validation_alias=AliasChoices("INTAKE_PORT", "http_port"))
    mongo_database: str = Field(
        "intake", validation_alias=AliasChoices("INTAKE_MONGO_DATABASE", "mongo_database")
    )
