"""Entrypoint: `python -m intake`."""

from intake.app import create_app
from intake.seed import SeedError
from intake.settings import Settings
from shared.logs import configure_logging
from shared.service import serve
from shared.settings import ProductionSettingsError


def main() -> None:
    """Run the intake service until SIGTERM; exit at once, saying why, on refused settings."""
    settings = Settings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    try:
        app = create_app(settings)
    except (ProductionSettingsError, SeedError) as exc:
        raise SystemExit(f"intake: {exc}") from None
    serve(app, settings)


if __name__ == "__main__":
    main()
