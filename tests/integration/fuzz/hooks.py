"""Schemathesis hooks of the fuzz runs (loaded by the CLI through SCHEMATHESIS_HOOKS).

FUZZ_KNOWN_IDS (JSON: path parameter name to values that exist) offers real ids next to the
generated ones, so requests reach past "not found"; FUZZ_STATUS_FILE receives the count of
each status code answered, written when the run ends.
"""

import atexit
import json
import os
from collections import Counter
from typing import Any

import hypothesis.strategies as st
import schemathesis

KNOWN: dict[str, list[str]] = json.loads(os.environ.get("FUZZ_KNOWN_IDS", "{}"))
STATUSES: Counter[int] = Counter()


@schemathesis.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Each path parameter with known values: the generated value or one of them."""
    if not path_parameters:
        return st.just(path_parameters)
    return st.fixed_dictionaries(
        {name: _generated_or_known(name, value) for name, value in path_parameters.items()}
    )


def _generated_or_known(name: str, value: Any) -> st.SearchStrategy[Any]:
    known = KNOWN.get(name)
    return st.one_of(st.just(value), st.sampled_from(known)) if known else st.just(value)


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """Count the answer's status code."""
    STATUSES[int(response.status_code)] += 1


def _write_statuses() -> None:
    path = os.environ.get("FUZZ_STATUS_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({str(code): count for code, count in sorted(STATUSES.items())}, handle)


atexit.register(_write_statuses)
