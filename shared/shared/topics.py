"""Topic names and their partitioning; an optional namespace isolates test runs on one broker."""

from dataclasses import dataclass

from shared.enums import Department

CASE_PARTITIONS = 6


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: name, partition count and whether it is compacted."""

    name: str
    partitions: int = CASE_PARTITIONS
    compacted: bool = False


@dataclass(frozen=True)
class Topics:
    """Every topic name of the system, optionally under a namespace prefix."""

    namespace: str = ""

    def _name(self, base: str) -> str:
        return f"{self.namespace}.{base}" if self.namespace else base

    @property
    def case_events(self) -> str:
        """All events of a case, keyed by case id: per-case order holds."""
        return self._name("case.events")

    @property
    def case_commands(self) -> str:
        """Commands for the workflow, keyed by case id."""
        return self._name("case.commands")

    @property
    def incident_events(self) -> str:
        """Incident and maintenance notices, keyed by notice id, compacted."""
        return self._name("incident.events")

    @property
    def directory(self) -> str:
        """Accounts and contacts, keyed by `account:<id>` / `contact:<id>`, compacted."""
        return self._name("directory.contacts")

    def queue(self, department: Department) -> str:
        """A department's work queue."""
        return self._name(f"queue.{department.slug}")

    @property
    def notify_mail_dlq(self) -> str:
        """Emails notify could not deliver (5xx, or 4xx after retries), replayable."""
        return self._name("notify.mail.dlq")

    def dlq(self, topic: str) -> str:
        """Where messages that failed all retries on `topic` go."""
        return f"{topic}.dlq"

    def all_specs(self) -> list[TopicSpec]:
        """Every topic the system uses, for creation at start-up."""
        base = [
            TopicSpec(self.case_events),
            TopicSpec(self.case_commands),
            TopicSpec(self.incident_events, partitions=1, compacted=True),
            TopicSpec(self.directory, partitions=1, compacted=True),
        ]
        queues = [TopicSpec(self.queue(d), partitions=3) for d in Department]
        dead = [TopicSpec(self.dlq(spec.name), partitions=1) for spec in base + queues]
        mail = [TopicSpec(self.notify_mail_dlq, partitions=1)]
        return base + queues + dead + mail
