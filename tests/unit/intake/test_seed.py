"""Loading the directory seed is explicit, and production refuses the public-token seed."""

import json
from pathlib import Path
from typing import Any

import pytest

from intake.app import create_app
from intake.seed import SeedError, startup_seed
from intake.settings import REPO_SEED, Settings
from shared.settings import ProductionSettingsError

PRODUCTION_MONGO = "mongodb://db-1.internal:27017,db-2.internal:27017/?replicaSet=rs0"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what each test passes counts, not the developer's shell."""
    for name in ("ENVIRONMENT", "INTAKE_SEED_FILE", "MONGO_URL"):
        monkeypatch.delenv(name, raising=False)


def _production(**values: Any) -> Settings:
    return Settings(environment="production", mongo_url=PRODUCTION_MONGO, **values)


def test_local_mode_loads_the_repository_seed_by_default() -> None:
    """Local development keeps loading deploy/seed/directory.json without being told."""
    assert REPO_SEED.exists()
    assert Settings().seed_path == REPO_SEED
    seed = startup_seed(Settings())
    assert seed is not None
    assert "dev-zack-morris" in [t.token_id for t in seed.tokens]


def test_empty_seed_file_loads_nothing() -> None:
    """INTAKE_SEED_FILE="" turns the seed off in either mode."""
    assert Settings(seed_file="").seed_path is None
    assert _production(seed_file=" ").seed_path is None


def test_production_loads_no_seed_unless_one_is_named() -> None:
    """Production without INTAKE_SEED_FILE loads nothing and starts."""
    assert _production().seed_path is None
    create_app(_production())


def test_production_refuses_the_public_token_seed() -> None:
    """Production with the repository seed refuses to start, naming the variable and tokens."""
    with pytest.raises(ProductionSettingsError) as refused:
        create_app(_production(seed_file=str(REPO_SEED)))
    message = str(refused.value)
    assert "INTAKE_SEED_FILE" in message
    assert "dev-zack-morris" in message
    assert "local-dev-only-zack-morris-token" not in message


def test_production_accepts_a_seed_without_local_tokens(tmp_path: Path) -> None:
    """A directory file of the deployment's own (no local-development token) is loaded."""
    own = json.loads(REPO_SEED.read_text(encoding="utf-8"))
    own["tokens"] = [
        {
            "token_id": "ops-1",
            "token": "Zr8v2-kP0x-91qLw-7TnB",
            "subject_kind": "staff",
            "subject_id": "staff-support",
        }
    ]
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(own), encoding="utf-8")
    seed = startup_seed(_production(seed_file=str(path)))
    assert seed is not None
    assert [t.token_id for t in seed.tokens] == ["ops-1"]


def test_a_named_seed_that_cannot_be_read_stops_the_start(tmp_path: Path) -> None:
    """A missing or broken seed file is a clear start-up error, not a silent background failure."""
    missing = tmp_path / "absent.json"
    with pytest.raises(SeedError, match="INTAKE_SEED_FILE"):
        startup_seed(Settings(seed_file=str(missing)))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(SeedError, match="INTAKE_SEED_FILE"):
        startup_seed(Settings(seed_file=str(broken)))


def test_production_refuses_the_local_mongo_default() -> None:
    """Production refuses required secrets left at their local defaults (shared rule)."""
    with pytest.raises(ProductionSettingsError, match="MONGO_URL"):
        create_app(Settings(environment="production", seed_file=""))
