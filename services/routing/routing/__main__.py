"""Entrypoint: `python -m routing` serves the engine, the timers and the staff API."""

import argparse
import sys
from pathlib import Path

from routing.app import create_app
from routing.clock import OffsetFileClock
from routing.engine import exit_after
from routing.settings import Settings
from shared.logs import configure_logging
from shared.service import check_secrets, serve
from shared.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    """Run the routing service until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m routing")
    parser.add_argument(
        "command", nargs="?", choices=["serve"], default="serve",
        help="serve (default): the transactional engine, the timers and the staff API",
    )  # fmt: skip
    parser.parse_args(argv)
    settings = load_settings(Settings)  # a bad variable: exits naming it
    check_secrets(settings)  # production: no local or missing secrets
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    clock = (
        OffsetFileClock(Path(settings.clock_offset_file)) if settings.clock_offset_file else None
    )
    drill = settings.fault_exit_after_batches
    serve(create_app(settings, clock, exit_after(drill) if drill else None), settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
