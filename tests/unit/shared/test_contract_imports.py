"""The contracts package imports no service, no dev tool and no package its pyproject omits."""

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "shared" / "shared"
PYPROJECT = ROOT / "shared" / "pyproject.toml"
# The packages that consume the contracts; the contracts must never depend on them.
CONSUMERS = {"intake", "routing", "feed", "notify", "status_board", "portal", "devstack"}
# Distributions whose import name is not their normalised name and that no installed
# metadata may tell (a package declared before it is installed).
IMPORT_NAMES = {
    "pymongo": {"pymongo", "bson", "gridfs"},
    "prometheus-client": {"prometheus_client"},
}


def modules() -> list[Path]:
    """Every Python file of the shared package."""
    return sorted(PACKAGE.rglob("*.py"))


def imported(path: Path) -> Iterator[tuple[str, int]]:
    """Top-level names a file imports (`import`, `from`, `importlib.import_module("x")`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name.split(".")[0], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno
        elif isinstance(node, ast.Call) and (target := _import_module_target(node)) is not None:
            yield target.split(".")[0], node.lineno


def _import_module_target(node: ast.Call) -> str | None:
    """The literal module of a call `import_module("x")`, however importlib was imported."""
    if not node.args:
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    first = node.args[0]
    if name == "import_module" and isinstance(first, ast.Constant):
        return str(first.value)
    return None


def named(path: Path) -> set[str]:
    """String literals of a file (package names handed to importlib.resources or StaticFiles)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def declared() -> set[str]:
    """Normalised distribution names in shared's `[project] dependencies`."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    names = (re.match(r"[A-Za-z0-9._-]+", spec) for spec in project["dependencies"])
    return {normalise(match.group(0)) for match in names if match}


def normalise(distribution: str) -> str:
    """PEP 503 form of a distribution name: `Pydantic_Settings` -> `pydantic-settings`."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def import_names(distributions: set[str]) -> set[str]:
    """The top-level modules the given distributions provide."""
    names = {d.replace("-", "_") for d in distributions}
    for distribution in distributions:
        names |= IMPORT_NAMES.get(distribution, set())
    for module, owners in packages_distributions().items():
        if {normalise(owner) for owner in owners} & distributions:
            names.add(module)
    return names


def third_party(name: str) -> bool:
    """Neither the standard library, nor shared itself, nor a consumer (checked apart)."""
    return name not in sys.stdlib_module_names and name != "shared" and name not in CONSUMERS


def offences(allowed: set[str]) -> list[str]:
    """`file:line name` for each import of a consumer or of a package outside `allowed`."""
    found = []
    for path in modules():
        for name, line in imported(path):
            if name in CONSUMERS or (third_party(name) and name not in allowed):
                found.append(f"{path.relative_to(ROOT)}:{line} {name}")
    return found


def test_shared_imports_no_service_and_only_declared_packages() -> None:
    """Each import under shared/shared is stdlib, shared, or a dependency its pyproject declares."""
    assert modules(), PACKAGE
    assert offences(import_names(declared())) == []


def test_shared_declares_only_what_it_uses() -> None:
    """Each declared dependency is imported, or named as a package of static files (docs.py)."""
    used: set[str] = set()
    for path in modules():
        used |= {name for name, _ in imported(path)} | named(path)
    assert sorted(d for d in declared() if not import_names({d}) & used) == []


def test_the_mapping_knows_distributions_named_apart_from_their_modules() -> None:
    """pydantic-settings is imported as pydantic_settings; pymongo also provides bson and gridfs."""
    names = import_names({"pydantic-settings", "pymongo", "prometheus-client"})
    assert {"pydantic_settings", "pymongo", "bson", "gridfs", "prometheus_client"} <= names
    assert "aiosmtpd" not in names


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("import intake.app\n", "intake"),
        ("from devstack import stack\n", "devstack"),
        ("import importlib\nimportlib.import_module('status_board.app')\n", "status_board"),
        ("def later() -> None:\n    import aiosmtpd.smtp\n", "aiosmtpd"),
    ],
)
def test_the_parser_finds_every_kind_of_import(tmp_path: Path, source: str, name: str) -> None:
    """Plain, from-, importlib and function-local imports are all seen."""
    path = tmp_path / "module.py"
    path.write_text(source, encoding="utf-8")
    assert name in {found for found, _ in imported(path)}
