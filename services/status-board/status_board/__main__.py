"""Entrypoint: `python -m status_board` serves the public and admin ports in one process."""

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator

import uvicorn

from shared.http import limits_of, server_config
from shared.logs import configure_logging
from shared.settings import load_settings
from status_board.app import create_admin_app, create_board, create_public_app, run_background
from status_board.fastpath import AccessLines, FastPath
from status_board.service import Board
from status_board.settings import Settings


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to main(), so both ports stop together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _servers(settings: Settings, board: Board, access: AccessLines | None) -> list[_Server]:
    apps = (
        (create_public_app(board=board), settings.http_port),
        (create_admin_app(board=board), settings.admin_port),
    )
    configs = [
        server_config(
            app,
            host=settings.http_host,
            port=port,
            limits=limits_of(settings),
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        for app, port in apps
    ]
    public = configs[0]
    public.load()  # then the fast path goes in front of the whole served stack
    public.loaded_app = FastPath(public.loaded_app, board, front=True, access=access)
    return [_Server(config) for config in configs]


def _stop(servers: list[_Server]) -> None:
    for server in servers:
        server.should_exit = True


async def _serve(settings: Settings) -> None:
    board = create_board(settings)
    # The fast path's own access lines are the JSON formatter's; other formats log as usual.
    access = AccessLines(settings.service_name) if settings.log_format == "json" else None
    servers = _servers(settings, board, access)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stop, servers)
    background = asyncio.create_task(run_background(board))
    try:
        await asyncio.gather(*(server.serve() for server in servers))
    finally:
        background.cancel()
        await asyncio.gather(background, return_exceptions=True)
        if access is not None:
            access.flush()
        board.close()


def main() -> None:
    """Run the status board until SIGTERM."""
    settings = load_settings(Settings)  # a bad variable: exits naming it
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_serve(settings))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (uvicorn's own choice), else asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    main()
