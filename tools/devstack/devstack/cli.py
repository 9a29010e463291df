"""Command line: ``python -m devstack up|down|status|logs``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from . import paths, process, stack
from .errors import StackError

# How each kind of service link is labelled in the URL list.
LINK_LABELS = {
    "api": "API",
    "docs": "docs (OpenAPI)",
    "asyncapi": "docs (AsyncAPI)",
    "openapi": "OpenAPI document",
    "atom": "Atom feed",
    "admin": "admin API (break-glass)",
    "admin-docs": "admin docs (OpenAPI)",
    "sign-in": "sign-in page",
    "discovery": "discovery document",
}


def url_rows() -> list[tuple[str, str]]:
    """Every URL of the stack, labelled: each service's API and docs, then the infra."""
    s = stack.settings()
    rows: list[tuple[str, str]] = []
    for part in stack.parts().values():
        if part.kind == "service":
            rows += [(f"{part.name} {LINK_LABELS.get(k, k)}", url) for k, url in part.links.items()]
    return [
        *rows,
        ("mailbox (web)", s.mailbox_url + "/"),
        ("mailbox (SMTP)", f"{s.smtp_host}:{s.smtp_port}"),
        ("kafka bootstrap", s.kafka_bootstrap),
        ("mongo", s.mongo_url),
    ]


def _print_rows(rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows)
    for label, url in rows:
        print(f"  {label:<{width}}  {url}")


def _print_urls() -> None:
    print("\nThe local stack is up:")
    _print_rows(url_rows())


def _print_infra_urls() -> None:
    s = stack.settings()
    print("\nThe local infra is up:")
    print(f"  kafka bootstrap  {s.kafka_bootstrap}")
    print(f"  mongo            {s.mongo_url}")
    print(f"  mailbox (web)    {s.mailbox_url}/")
    print(f"  mailbox (SMTP)   {s.smtp_host}:{s.smtp_port}")


def cmd_up(args: argparse.Namespace) -> int:
    begin = time.monotonic()
    names = stack.INFRA_PARTS if args.infra else stack.ALL_PARTS
    try:
        stack.ensure(names, keep_on_error=True)
    except StackError as exc:
        raise StackError(
            f"{exc}\n(parts that did start are left running: "
            "`python -m devstack status`, `make down` to stop them)"
        ) from exc
    if args.infra:
        _print_infra_urls()
    else:
        _print_urls()
    print(f"\n(ready in {time.monotonic() - begin:.1f}s; STACK_HOME={paths.stack_home()})")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    stopped = stack.down()
    print("stopped: " + ", ".join(stopped) if stopped else "nothing was running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    states = stack.status()
    if args.json:
        payload = {
            "stack_home": str(paths.stack_home()),
            "parts": [s.as_dict() for s in states],
        }
        print(json.dumps(payload, indent=2))
        return 0
    print(f"{'PART':<13} {'KIND':<8} {'STATE':<10} {'PID':>7}  URL")
    for s in states:
        pid = str(s.pid) if s.pid is not None else "-"
        print(f"{s.name:<13} {s.kind:<8} {s.state:<10} {pid:>7}  {s.url}")
    print("\nURLs:")
    _print_rows(url_rows())
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    names = [args.part] if args.part else list(stack.ALL_PARTS)
    if args.part and args.part not in stack.ALL_PARTS:
        raise StackError(f"unknown part {args.part}; known: {', '.join(stack.ALL_PARTS)}")
    files = {n: paths.log_file(n) for n in names}
    existing = {n: p for n, p in files.items() if p.exists()}
    if not existing and not args.follow:
        print(f"no logs yet in {paths.logs_dir()}")
        return 0
    for name, path in existing.items():
        text = process.tail(path, args.lines)
        if args.part:
            print(text)
        else:
            print(f"==> {name} ({path}) <==\n{text}\n")
    if args.follow:
        try:
            for line in process.follow(files, prefix=not args.part):
                print(line, flush=True)
        except KeyboardInterrupt:
            return 0
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description="Local development stack: Kafka, a MongoDB-wire server, an SMTP sink "
        "and the five services, run as plain processes (no Docker).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start what is not running and wait until all is healthy")
    up.add_argument("--infra", action="store_true", help="only Kafka, Mongo and the SMTP sink")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="stop everything (services first, then infra)")
    down.set_defaults(func=cmd_down)
    st = sub.add_parser("status", help="show every part with its URL, pid and health")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(func=cmd_status)
    logs = sub.add_parser("logs", help="show (or follow) the logs of one part or of all")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, default=50, help="lines of history per part")
    logs.add_argument("part", nargs="?", help=f"one of: {', '.join(stack.ALL_PARTS)}")
    logs.set_defaults(func=cmd_logs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except StackError as exc:
        print(f"devstack: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("devstack: interrupted", file=sys.stderr)
        return 130
    return code
