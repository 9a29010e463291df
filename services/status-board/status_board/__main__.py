"""Entrypoint: `python -m status_board` serves the public and admin ports in one process."""

import asyncio

import uvicorn

from shared.logs import configure_logging
from status_board.app import create_admin_app, create_public_app
from status_board.settings import Settings


async def _serve_both(settings: Settings) -> None:
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                app, host=settings.http_host, port=port, log_config=None, access_log=False
            )
        )
        for app, port in (
            (create_public_app(settings), settings.http_port),
            (create_admin_app(settings), settings.admin_port),
        )
    ]
    await asyncio.gather(*(server.serve() for server in servers))


def main() -> None:
    """Run the status board until SIGTERM."""
    settings = Settings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    asyncio.run(_serve_both(settings))


if __name__ == "__main__":
    main()
