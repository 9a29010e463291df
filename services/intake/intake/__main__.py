"""Entrypoint: `python -m intake` serves, `python -m intake inbound` listens for replies."""

import argparse
import sys

from intake.app import create_app
from intake.seed import SeedError
from intake.settings import Settings
from shared.logs import configure_logging
from shared.service import serve
from shared.settings import ProductionSettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    """Run the intake service until SIGTERM; exit at once, saying why, on refused settings."""
    parser = argparse.ArgumentParser(prog="python -m intake")
    parser.add_argument(
        "command", nargs="?", choices=["serve", "inbound"], default="serve",
        help="serve (default), or inbound: the SMTP listener for replies by email; "
        "contacts, staff and tokens: python -m intake.cli",
    )  # fmt: skip
    command = parser.parse_args(argv).command
    settings = load_settings(Settings)  # a bad variable: exits naming it
    if command == "inbound":
        return _inbound(settings)
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    try:
        app = create_app(settings)
    except (ProductionSettingsError, SeedError) as exc:
        raise SystemExit(f"intake: {exc}") from None
    serve(app, settings)
    return 0


def _inbound(settings: Settings) -> int:
    """Run the inbound mail listener until SIGTERM (deploy/inbound-mail.md)."""
    from intake import inbound  # only this command needs the SMTP server

    try:
        inbound.run(settings)
    except ProductionSettingsError as exc:
        raise SystemExit(f"intake inbound: {exc}") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
