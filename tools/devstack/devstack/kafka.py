"""Apache Kafka from Maven Central: jar download, KRaft config, storage format and readiness."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Coroutine
from pathlib import Path
from string import Template
from typing import Any, TypeVar

from . import paths
from .errors import StackError, say
from .ports import HOST, Ports, port_open

KAFKA_VERSION = "3.9.1"
MIN_JAVA = 17
# Kafka's own defaults (kafka-run-class.sh): G1 with short pauses. A 384 MiB serial heap
# filled up once a few thousand test topics existed and the broker then spent about a quarter
# of its time in one-second full collections, which every acks=all latency figure showed.
HEAP_OPTS = [
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
]

T = TypeVar("T")


def deploy_dir() -> Path:
    """Folder with the pom and config templates (deploy/local/kafka)."""
    return paths.repo_root() / "deploy" / "local" / "kafka"


def libs_dir() -> Path:
    """Folder the Kafka runtime jars are copied into."""
    return paths.kafka_home() / "libs"


def _marker() -> Path:
    return libs_dir() / ".complete"


def find_java() -> str:
    """Return the java executable (JDK 17+), or raise a StackError saying what to install."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else None
    java = candidate if candidate and Path(candidate).is_file() else shutil.which("java")
    if java is None:
        raise StackError(
            "java not found: install a JDK 17 or newer (e.g. apt-get install openjdk-17-jdk)"
        )
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"java at {java} does not run ({exc}): install a JDK 17 or newer") from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):
            major = int(match.group(2))
        if major < MIN_JAVA:
            raise StackError(
                f"java at {java} is version {major}: install a JDK {MIN_JAVA} or newer"
            )
    return java


def ensure_jars() -> None:
    """Download the Kafka jars with Maven unless they are already in STACK_HOME."""
    marker = _marker()
    if marker.is_file() and marker.read_text().strip() == KAFKA_VERSION:
        return
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "mvn not found: install Apache Maven 3 (e.g. apt-get install maven); it is used "
            "once to fetch the Kafka jars from Maven Central"
        )
    pom = deploy_dir() / "pom.xml"
    out_dir = libs_dir()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    say(f"fetching Kafka {KAFKA_VERSION} jars from Maven Central into {out_dir} (first run only)")
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={out_dir}",
        "-DincludeScope=runtime",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    jars = list(out_dir.glob("kafka_2.13-*.jar"))
    if proc.returncode != 0 or not jars:
        output = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise StackError(f"downloading the Kafka jars failed ({' '.join(cmd)}):\n{output}")
    marker.write_text(KAFKA_VERSION + "\n")


def _render(template: Path, target: Path, values: dict[str, str]) -> None:
    try:
        text = Template(template.read_text()).substitute(values)
    except (KeyError, ValueError) as exc:
        hint = "write $$ for a literal $"
        raise StackError(f"bad placeholder in {template}: {exc!r} ({hint})") from exc
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(target)


def server_properties() -> Path:
    """Path of the rendered server.properties."""
    return paths.kafka_home() / "server.properties"


def log4j_properties() -> Path:
    """Path of the rendered log4j configuration."""
    return paths.kafka_home() / "log4j.properties"


def render_config(ports: Ports) -> None:
    """Render server.properties and log4j.properties from the templates in deploy/local/kafka."""
    paths.kafka_home().mkdir(parents=True, exist_ok=True)
    data = paths.data_dir("kafka")
    data.mkdir(parents=True, exist_ok=True)
    values = {
        "HOST": HOST,
        "KAFKA_PORT": str(ports.kafka),
        "KAFKA_CONTROLLER_PORT": str(ports.kafka_controller),
        "KAFKA_DATA_DIR": str(data),
        "LOG_FILE": str(paths.log_file("kafka")),
    }
    _render(deploy_dir() / "server.properties.template", server_properties(), values)
    _render(deploy_dir() / "log4j.properties.template", log4j_properties(), values)


TOOLS_LOG4J = """log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


def _classpath() -> str:
    return str(libs_dir() / "*")


def _tool(java: str, *args: str) -> subprocess.CompletedProcess[str]:
    tools_log4j = paths.kafka_home() / "tools-log4j.properties"
    tools_log4j.write_text(TOOLS_LOG4J)
    return subprocess.run(
        [java, "-cp", _classpath(), f"-Dlog4j.configuration=file:{tools_log4j}", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=paths.kafka_home(),
    )


def ensure_formatted(java: str) -> None:
    """Format the KRaft storage once (standalone dynamic quorum); keep an existing one."""
    data = paths.data_dir("kafka")
    if (data / "meta.properties").is_file():
        return
    id_file = paths.kafka_home() / "cluster.id"
    cluster_id = id_file.read_text().strip() if id_file.is_file() else ""
    if not cluster_id:
        proc = _tool(java, "kafka.tools.StorageTool", "random-uuid")
        lines = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]
        if proc.returncode != 0 or not lines:
            raise StackError(f"kafka StorageTool random-uuid failed:\n{proc.stdout}{proc.stderr}")
        cluster_id = lines[-1]
        id_file.write_text(cluster_id + "\n")
    say(f"formatting Kafka KRaft storage in {data} (cluster id {cluster_id})")
    proc = _tool(
        java,
        "kafka.tools.StorageTool",
        "format",
        "--standalone",
        "-t",
        cluster_id,
        "-c",
        str(server_properties()),
    )
    if proc.returncode != 0:
        raise StackError(f"kafka StorageTool format failed:\n{proc.stdout}{proc.stderr}")


def prepare(ports: Ports) -> list[str]:
    """Install and configure Kafka; return the argv that runs the node."""
    java = find_java()
    ensure_jars()
    render_config(ports)
    ensure_formatted(java)
    return [
        java,
        *HEAP_OPTS,
        "-cp",
        _classpath(),
        f"-Dlog4j.configuration=file:{log4j_properties()}",
        "kafka.Kafka",
        str(server_properties()),
    ]


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion even when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[T] = []
    error: list[BaseException] = []

    def runner() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=runner, name="devstack-kafka-check")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


async def _metadata_ok(bootstrap: str, seconds: float) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="devstack-health",
        request_timeout_ms=int(seconds * 1000),
    )
    try:
        await asyncio.wait_for(admin.start(), seconds)
        cluster = await asyncio.wait_for(admin.describe_cluster(), seconds)
        brokers = cluster.get("brokers") or []
        return bool(brokers) and cluster.get("controller_id", -1) != -1
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(admin.close(), seconds)


def healthy(ports: Ports, timeout: float = 3.0) -> bool:
    """Return True if the broker answers a metadata (DescribeCluster) request."""
    if not port_open(ports.kafka):
        return False
    logger = logging.getLogger("aiokafka")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)  # connection errors while starting are expected
    try:
        return _run_sync(_metadata_ok(f"{HOST}:{ports.kafka}", timeout))
    finally:
        logger.setLevel(previous)
