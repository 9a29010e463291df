"""The portal's own storage: which one-time sign-in links were used (it keeps no case data)."""

from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.mongo import Document


class LinkStore:
    """Used sign-in links by id; the insert is the single use, shared by every replica."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.links = db["used_links"]

    async def ensure_indexes(self) -> None:
        """Old entries expire: a link is refused by its own expiry long before."""
        await self.links.create_index("expires_at", expireAfterSeconds=3600)

    async def use(self, link_id: str, expires_at: datetime) -> bool:
        """Record the link as used; False when it was used before."""
        try:
            await self.links.insert_one({"_id": link_id, "expires_at": expires_at})
        except DuplicateKeyError:
            return False
        return True
