"""Removing what a test or benchmark created on the local stack: its topics, its database.

The shared broker and Mongo server slow down with everything left behind (partitions fill the
broker's heap; every database adds to the server's storage), so whoever made them deletes them.
"""

from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient


async def forget_namespace(bootstrap: str, mongo_url: str, namespace: str, database: str) -> None:
    """Delete every topic under `namespace` and drop `database`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(f"{namespace}.")]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        await mongo.drop_database(database)
    finally:
        await mongo.close()
