"""The README's configuration table lists every setting a process reads, and nothing else.

Settings are found by walking each service's pydantic-settings class (the environment variable
of every field, as `shared.settings.env_name` resolves aliases and prefixes) and the local
stack's own variables (its port table and the names it reads from the environment).
"""

import importlib
import re
from pathlib import Path

from pydantic_settings import BaseSettings

from devstack.ports import DEFAULT_PORTS
from shared.settings import InfraSettings, env_name

ROOT = Path(__file__).resolve().parents[3]
SERVICE_PACKAGES = ("intake", "routing", "feed", "notify", "status_board", "portal")
# Files whose `os.environ.get("NAME")` calls are settings of the local stack and the tests.
ENV_READERS = (*sorted((ROOT / "tools/devstack/devstack").glob("*.py")), ROOT / "tests/conftest.py")
ENV_GET = re.compile(r"""environ\.get\(\s*["']([A-Z][A-Z0-9_]*)["']""")
NAME = re.compile(r"`([A-Z][A-Z0-9_]*)`")


def settings_classes() -> list[type[BaseSettings]]:
    """The settings class of every service, and the infrastructure settings they share."""
    found: list[type[BaseSettings]] = [InfraSettings]
    for package in SERVICE_PACKAGES:
        found.append(importlib.import_module(f"{package}.settings").Settings)
    return found


def variables_of(cls: type[BaseSettings]) -> set[str]:
    """The environment variable of each field of a settings class."""
    instance = cls.model_construct()
    return {env_name(instance, name) for name in type(instance).model_fields}


def stack_variables() -> set[str]:
    """What the local stack (and the test session) read from the environment."""
    names = set(DEFAULT_PORTS)
    for path in ENV_READERS:
        names |= set(ENV_GET.findall(path.read_text(encoding="utf-8")))
    return names


def every_setting() -> set[str]:
    """Every variable a process of this repository reads as a setting."""
    names = stack_variables()
    for cls in settings_classes():
        names |= variables_of(cls)
    return names


def documented() -> set[str]:
    """The variables named in the first column of README's "## Configuration" table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in NAME.findall(row.split(" | ", 1)[0])}


def test_every_setting_is_in_the_readme_table() -> None:
    """A setting added to any Settings class or to the local stack needs its README row."""
    missing = sorted(every_setting() - documented())
    assert missing == [], f"add these to README.md's configuration table: {missing}"


def test_the_readme_table_names_only_real_settings() -> None:
    """A row for a setting that no longer exists is removed (or renamed with it)."""
    stale = sorted(documented() - every_setting())
    assert stale == [], f"README.md documents settings nothing reads: {stale}"


def test_the_walk_finds_settings_the_issue_names() -> None:
    """The walk itself sees the settings the issue found missing, so it cannot pass vacuously."""
    names = every_setting()
    assert {"INTAKE_SEED_FILE", "INTAKE_RATE_PER_SECOND", "STATUS_BOARD_ADMIN_PORT"} <= names
    assert {"STACK_HOME", "DEVSTACK_START_TIMEOUT", "KAFKA_PORT"} <= names
