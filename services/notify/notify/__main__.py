"""Entrypoint: `python -m notify` serves; `python -m notify replay-dlq` resends dead mail."""

import argparse
import asyncio
import sys

from notify.app import create_app, mailer_of
from notify.replay import read_all
from notify.service import replay
from notify.settings import Settings
from notify.store import SentStore
from shared.logs import configure_logging
from shared.mongo import mongo_client
from shared.service import check_secrets, serve
from shared.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    """Run the notify service until SIGTERM, or run a subcommand."""
    parser = argparse.ArgumentParser(prog="python -m notify")
    parser.add_argument(
        "command", nargs="?", choices=["serve", "replay-dlq"], default="serve",
        help="serve (default) or replay-dlq: send the dead-lettered mail again",
    )  # fmt: skip
    args = parser.parse_args(argv)
    settings = load_settings(Settings)  # a bad variable: exits naming it
    check_secrets(settings)  # production: no local or missing secrets
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    if args.command == "replay-dlq":
        return asyncio.run(replay_dlq(settings))
    serve(create_app(settings), settings)
    return 0


async def replay_dlq(settings: Settings) -> int:
    """Replay the mail DLQ once; exit status 1 when some mail failed again."""
    topic = settings.topics.notify_mail_dlq
    dead = await read_all(settings.kafka_bootstrap_servers, topic)
    mongo = mongo_client(settings, retry_writes=False)  # idempotent writes, see mongo_client
    mailer = mailer_of(settings)
    try:
        report = await replay(dead, SentStore(mongo[settings.mongo_database]), mailer)
    finally:
        await mailer.aclose()
        await mongo.close()
    print(f"{topic}: {len(dead)} records; {report}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
