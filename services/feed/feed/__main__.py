"""Entrypoint: `python -m feed` serves; `python -m feed rebuild` replays case.events from 0."""

import sys

from feed.app import create_app
from feed.settings import Settings
from shared.logs import configure_logging
from shared.service import check_secrets, serve

USAGE = "usage: python -m feed [rebuild]"


def main(argv: list[str]) -> int:
    """Run the feed service until SIGTERM, or one rebuild of the read model."""
    settings = Settings()
    check_secrets(settings)  # production: no local or missing secrets
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    if argv == ["rebuild"]:
        from feed.rebuild import main as rebuild

        rebuild(settings)
        return 0
    if argv:
        print(USAGE, file=sys.stderr)
        return 2
    serve(create_app(settings), settings)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
