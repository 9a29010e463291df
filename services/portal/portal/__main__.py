"""Entrypoint: `python -m portal` serves the Support Portal."""

import sys

from portal.app import create_app
from portal.settings import Settings
from shared.logs import configure_logging
from shared.service import check_secrets, serve
from shared.settings import load_settings


def main(argv: list[str]) -> int:
    """Run the portal until SIGTERM."""
    if argv:
        print("usage: python -m portal", file=sys.stderr)
        return 2
    settings = load_settings(Settings)  # a bad variable: exits naming it
    check_secrets(settings)  # production: no local or missing secrets
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    serve(create_app(settings), settings)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
