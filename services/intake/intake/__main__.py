"""Entrypoint: `python -m intake`."""

from intake.app import create_app
from intake.settings import Settings
from shared.logs import configure_logging
from shared.service import serve


def main() -> None:
    """Run the intake service until SIGTERM."""
    settings = Settings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
