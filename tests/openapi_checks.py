"""What every service's OpenAPI test checks alike: each operation described, with examples."""

from collections.abc import Iterator
from typing import Any

# Every service's docs page links these, the local stack's docs addresses (README, ports).
DOCS_LINKS = [
    "http://127.0.0.1:8001/docs",
    "http://127.0.0.1:8002/docs",
    "http://127.0.0.1:8003/docs",
    "http://127.0.0.1:8004/api/docs",
    "http://127.0.0.1:8014/docs",
]
Spec = dict[str, Any]


def operations(spec: Spec) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each operation of the document as (`METHOD /path`, the operation object)."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def has_example(media: dict[str, Any]) -> bool:
    """Whether a media type object shows an example (one, or named ones)."""
    return bool(media.get("example") is not None or media.get("examples"))


def missing(spec: Spec) -> list[str]:
    """What each operation lacks: a description, a body example, a 2xx example."""
    found = []
    for name, operation in operations(spec):
        if not operation.get("description", "").strip():
            found.append(f"{name}: description")
        body = operation.get("requestBody", {}).get("content", {})
        if "requestBody" in operation and not any(map(has_example, body.values())):
            found.append(f"{name}: request example")
        for status, answer in operation["responses"].items():
            media = answer.get("content", {}).values()
            if status.startswith("2") and not any(map(has_example, media)):
                found.append(f"{name}: {status} example")
    return found
