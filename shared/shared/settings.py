"""Typed settings: infrastructure endpoints shared by every process, with local defaults."""

from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.topics import Topics


class InfraSettings(BaseSettings):
    """Where Kafka, the Mongo server and SMTP are; every field has a local default."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    # `production` makes every service refuse well-known local secrets and missing secrets.
    environment: Literal["local", "production"] = "local"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    mongo_url: SecretStr = SecretStr(
        "mongodb://127.0.0.1:27017/?directConnection=true&retryWrites=false"
    )
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
