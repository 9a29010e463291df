"""Entrypoint: `python -m routing`."""

from pathlib import Path

from routing.app import create_app
from routing.clock import OffsetFileClock
from routing.settings import Settings
from shared.logs import configure_logging
from shared.service import check_secrets, serve


def main() -> None:
    """Run the routing service until SIGTERM."""
    settings = Settings()
    check_secrets(settings)  # production: no local or missing secrets
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    clock = (
        OffsetFileClock(Path(settings.clock_offset_file)) if settings.clock_offset_file else None
    )
    serve(create_app(settings, clock), settings)


if __name__ == "__main__":
    main()
