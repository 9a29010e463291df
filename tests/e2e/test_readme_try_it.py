"""The README's "Try it" commands, run in order in one bash against the system `make up` starts."""

import asyncio
import json
import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import System

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- try-it -->"
BLOCK = re.compile(re.escape(MARKER) + r"\n```bash\n(.*?)\n```", re.S)
STEP = "@@ step {} @@"
# The blocks: set-up, submit, post, staff take and resolve, staff post, close, reopen, list and
# search, emails.
STEPS = 9


def try_it_section() -> str:
    """The README's "Try it" section, up to the next heading of the same level."""
    text = README.read_text(encoding="utf-8")
    return text.split("\n## Try it\n", 1)[1].split("\n## ", 1)[0]


def try_it_blocks() -> list[str]:
    """The marked shell blocks of the "Try it" section, in order."""
    return BLOCK.findall(try_it_section())


def script(system: System, blocks: list[str]) -> str:
    """One bash script of every block, each after a line naming its step, on this stack's URLs."""
    urls = {
        "http://127.0.0.1:8001": system.intake,
        "http://127.0.0.1:8002": system.routing,
        "http://127.0.0.1:8003": system.feed,
        "http://127.0.0.1:8025": system.mailbox,
    }
    parts = ["set -euo pipefail"]
    for number, block in enumerate(blocks, start=1):
        for readme_url, url in urls.items():
            block = block.replace(readme_url, url.rstrip("/"))
        parts += [f"echo '{STEP.format(number)}'", block]
    return "\n".join(parts) + "\n"


async def run_bash(source: str, cwd: Path) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of bash running `source` in `cwd`."""
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        source,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def outputs_by_step(stdout: str) -> dict[int, list[str]]:
    """The lines each step printed, by step number."""
    steps: dict[int, list[str]] = {}
    current = 0
    for line in stdout.splitlines():
        found = re.fullmatch(r"@@ step (\d+) @@", line)
        if found:
            current = int(found.group(1))
            steps[current] = []
        elif current:
            steps[current].append(line)
    return steps


def test_try_it_section_marks_every_shell_block() -> None:
    """Every shell block of "Try it" is marked, so the walk below runs all of them."""
    section = try_it_section()
    assert len(try_it_blocks()) == STEPS
    assert section.count("```bash") == STEPS
    assert section.count(MARKER) == STEPS


async def test_readme_try_it_commands_work_one_case_through_its_life(
    system: System, tmp_path: Path
) -> None:
    """The README's commands submit, post, resolve, close, reopen, list, search and mail a case."""
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the README's commands need {', '.join(missing)} on the PATH")
    status, stdout, stderr = await run_bash(script(system, try_it_blocks()), tmp_path)
    steps = outputs_by_step(stdout)
    shown = f"exit status {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    assert status == 0, shown
    assert sorted(steps) == list(range(1, STEPS + 1)), shown

    assert steps[1] == [], shown
    submitted = re.fullmatch(r"Case (\d{7,})", "\n".join(steps[2]))
    assert submitted, shown
    number = int(submitted.group(1))
    _check_post(steps[3], shown)
    assert steps[4] == [
        f'{{"case_number":{number},"department":"Campus Support","status":"New"}}',
        "assign: applied",
        "resolution: applied",
    ], shown
    _check_staff_post(steps[5], number, shown)
    assert steps[6] == [
        '{"command":"close","outcome":"applied","reason":null}',
        f"Case {number}: Closed",
    ], shown
    assert steps[7] == [f"Case {number}: Re-Opened"], shown
    _check_list_and_search(steps[8], number, shown)
    _check_mails(steps[9], number, shown)


def _check_post(lines: list[str], shown: str) -> None:
    assert len(lines) == 1, shown
    assert '"attachments":[{"filename":"snow-day.txt","size":38}]' in lines[0], shown


def _check_staff_post(lines: list[str], number: int, shown: str) -> None:
    assert len(lines) == 2, shown
    post, case = json.loads(lines[0]), json.loads(lines[1])
    assert post["body_html"] == (
        "<p>Pick the day under <em>Days</em> and untick <strong>School Day</strong>.</p>"
    ), shown
    assert case["case_number"] == number, shown
    assert case["status"] == "Pending Customer Verification", shown
    assert case["last_activity_summary"].startswith("post "), shown
    assert case["last_activity_summary"].endswith(" by Pat Support (staff)"), shown


def _check_list_and_search(lines: list[str], number: int, shown: str) -> None:
    listed = f'{{"number":{number},"subject":"Snow Day","status":"Re-Opened"}}'
    assert lines[0] == listed, shown
    found = lines[1:]
    assert len(found) == 1, shown
    assert "The snow day is Friday; the notice is attached." in found[0], shown
    assert '"attachments":["snow-day.txt"]' in found[0], shown


def _check_mails(lines: list[str], number: int, shown: str) -> None:
    subject = f"[Case {number}] Snow Day"
    assert lines, shown
    assert all(line.startswith(f"{subject}  ") for line in lines), shown
    templates = {line.removeprefix(f"{subject}  ") for line in lines}
    # The receipt, Pat's resolution and his post reach Zack (status moves by staff do too);
    # his own close and reopen mail him nothing.
    assert {"case_received", "status_pending_customer_verification", "staff_post"} <= templates
    assert not templates & {"status_closed", "status_re_opened"}, shown
