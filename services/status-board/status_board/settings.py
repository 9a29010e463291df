"""Settings of the status board; it runs with every other part of the system down."""

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr

from shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """Status board settings, from the environment."""

    service_name: str = "status_board"
    http_port: int = Field(8004, validation_alias=AliasChoices("STATUS_BOARD_PORT", "http_port"))
    admin_port: int = Field(
        8014, validation_alias=AliasChoices("STATUS_BOARD_ADMIN_PORT", "admin_port")
    )
    data_dir: Path = Field(
        Path(".stack/data/status-board"),
        validation_alias=AliasChoices("STATUS_BOARD_DATA_DIR", "data_dir"),
    )
    admin_token: SecretStr = Field(
        SecretStr("local-status-admin-token"),
        validation_alias=AliasChoices("STATUS_BOARD_ADMIN_TOKEN", "admin_token"),
    )
    time_zone: str = Field(
        "America/Chicago", validation_alias=AliasChoices("STATUS_BOARD_TIME_ZONE", "time_zone")
    )
