"""Entrypoint: `python -m feed` serves; `python -m feed rebuild` replays case.events from 0."""

import argparse
import sys

from feed.app import create_app
from feed.settings import Settings
from shared.logs import configure_logging
from shared.service import check_secrets, serve
from shared.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    """Run the feed service until SIGTERM, or run a subcommand."""
    parser = argparse.ArgumentParser(prog="python -m feed")
    parser.add_argument(
        "command", nargs="?", choices=["serve", "rebuild"], default="serve",
        help="serve (default) or rebuild: replay case.events from offset 0 and swap the result in",
    )  # fmt: skip
    args = parser.parse_args(argv)
    settings = load_settings(Settings)  # a bad variable: exits naming it
    check_secrets(settings)  # production: no local or missing secrets
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    if args.command == "rebuild":
        from feed.rebuild import main as rebuild

        rebuild(settings)
        return 0
    serve(create_app(settings), settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
