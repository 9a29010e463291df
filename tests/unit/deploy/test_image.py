"""The image holds what the services read at run time: the wheels built from the Docker build
context (the files the Dockerfile copies, minus .dockerignore) carry every packaged data file.

No Docker engine here: the context is rebuilt by reading .dockerignore and the Dockerfile's
COPY lines, and the wheels are built from it with `uv build --offline` as the image's
`uv sync --no-editable` builds them.
"""

import fnmatch
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "deploy/Dockerfile"
# Workspace member -> its package folder (what `python -m <package>` imports).
PACKAGES = {
    "shared": "shared/shared",
    "intake": "services/intake/intake",
    "routing": "services/routing/routing",
    "feed": "services/feed/feed",
    "notify": "services/notify/notify",
    "status_board": "services/status-board/status_board",
}


def ignore_patterns() -> list[str]:
    """The .dockerignore patterns, comments and blanks dropped."""
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and line[0] != "#"]


def ignored(path: PurePosixPath, patterns: list[str]) -> bool:
    """Docker's rule, for the patterns used here: a pattern excludes a path or its folder."""
    parts = path.parts
    for pattern in patterns:
        anywhere = pattern.startswith("**/")
        wanted = pattern.removeprefix("**/")
        starts = range(len(parts)) if anywhere else range(1)
        for start in starts:
            for end in range(start + 1, len(parts) + 1):
                if fnmatch.fnmatchcase("/".join(parts[start:end]), wanted):
                    return True
    return False


def copied_sources() -> list[str]:
    """What the build stage's COPY lines take from the context (not from other images)."""
    sources: list[str] = []
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


def build_context(target: Path) -> None:
    """Copy what the Dockerfile copies, as the daemon would see it after .dockerignore."""
    patterns = ignore_patterns()
    for source in copied_sources():
        base = ROOT / source
        files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
        for file in files:
            relative = PurePosixPath(file.relative_to(ROOT).as_posix())
            if not ignored(relative, patterns):
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, target / relative)


def data_files(package_dir: str) -> set[str]:
    """Non-Python files in a package folder of the checkout, as paths inside a wheel."""
    folder = ROOT / package_dir
    found = set()
    for path in folder.rglob("*"):
        if (
            path.is_file()
            and path.suffix not in {".py", ".pyc"}
            and "__pycache__" not in path.parts
        ):
            found.add(f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return found


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every file inside the wheels built from the rebuilt build context."""
    uv = os.environ.get("UV") or shutil.which("uv")  # `uv run` names itself in UV
    if uv is None:
        pytest.skip("uv is not on the PATH")
    context, out = tmp_path_factory.mktemp("context"), tmp_path_factory.mktemp("wheels")
    build_context(context)
    done = subprocess.run(
        [uv, "build", "--offline", "--wheel", "--all-packages", "--out-dir", str(out)],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 and "offline" in done.stderr.lower():
        pytest.skip(f"the build backend is not in uv's cache: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr
    names: set[str] = set()
    for wheel in out.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            names |= set(archive.namelist())
    return names


def test_dockerignore_keeps_the_packages_in_the_context() -> None:
    """The package folders are copied and none of their files is ignored."""
    patterns = ignore_patterns()
    sources = copied_sources()
    assert {"shared", "services", "pyproject.toml", "uv.lock"} <= set(sources)
    for package_dir in PACKAGES.values():
        for name in data_files(package_dir):
            path = PurePosixPath(package_dir).parent / name
            assert not ignored(path, patterns), path


def test_the_ignore_rule_reads_patterns_as_docker_does() -> None:
    """`**/x` excludes x anywhere; a bare name only at the top of the context."""
    patterns = ["**/__pycache__", "tests", "deploy"]
    assert ignored(PurePosixPath("services/intake/intake/__pycache__/a.pyc"), patterns)
    assert ignored(PurePosixPath("tests/unit/x.py"), patterns)
    assert ignored(PurePosixPath("deploy/seed/directory.json"), patterns)
    assert not ignored(PurePosixPath("services/routing/routing/routes.json"), patterns)


def test_wheels_carry_every_packaged_data_file(wheel_files: set[str]) -> None:
    """Routing's table, notify's and the board's templates and the docs assets are installed."""
    expected: set[str] = set()
    for package_dir in PACKAGES.values():
        expected |= data_files(package_dir)
    assert "routing/routes.json" in expected
    assert any(name.startswith("notify/templates/") for name in expected)
    assert any(name.startswith("status_board/templates/") for name in expected)
    assert any(name.startswith("shared/static/") for name in expected)
    assert sorted(expected - wheel_files) == []


def test_wheels_carry_every_entrypoint_compose_runs(wheel_files: set[str]) -> None:
    """Each `python -m` module of the compose file, the directory CLI included, is installed."""
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    modules = set(re.findall(r'"-m", "([a-z_.]+)"', compose))
    modules |= set(re.findall(r"^\s+- -m\n\s+- ([a-z_.]+)$", compose, re.MULTILINE))
    assert {"intake", "routing", "feed", "notify", "status_board", "intake.cli"} <= modules
    for module in modules:
        path = module.replace(".", "/")
        assert f"{path}/__main__.py" in wheel_files or f"{path}.py" in wheel_files, module
