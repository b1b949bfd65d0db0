"""PostgreSQL's queue of messages to publish (``publish_queue``, filled by a trigger on
``messages``), claimed in a transaction that lasts while they are published.

One publisher at a time: the claim's transaction takes an advisory lock
(``pg_try_advisory_xact_lock``; another instance publishing meanwhile: an empty claim) and then
the oldest rows. A batch is
published and its rows deleted before the next publisher can claim, so each device's messages
reach the broker in id order whichever instance publishes them; an instance that dies rolls its
claim back and the rows are claimed again by another.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import delete, func, select

from lorafox.ports.cluster import Claimed
from lorafox.store.sql.database import Repository
from lorafox.store.sql.messages import stored_uplink
from lorafox.store.sql.tables import messages, publish_queue

__all__ = ["PUBLISHER_LOCK_KEY", "PublishQueueRepository"]

#: the advisory lock key of the publisher ("lfxpub" in ASCII)
PUBLISHER_LOCK_KEY = 0x6C6678707562


class PublishQueueRepository(Repository):
    """Implements ``lorafox.ports.cluster.PublishQueue``."""

    @contextlib.asynccontextmanager
    async def claim(self, limit: int) -> AsyncIterator[Claimed]:
        queued = publish_queue.c.message_id
        oldest = select(queued).order_by(queued).limit(limit).with_for_update()
        async with self._db.writing() as conn:
            publisher = await conn.scalar(
                select(func.pg_try_advisory_xact_lock(PUBLISHER_LOCK_KEY))
            )
            ids = list((await conn.scalars(oldest)).all()) if publisher else []
            found = (
                await conn.execute(
                    select(messages).where(messages.c.id.in_(ids)).order_by(messages.c.id)
                )
                if ids
                else ()
            )
            claimed = Claimed([stored_uplink(row) for row in found])
            yield claimed
            # a message deleted while queued (retention, purge) leaves the queue too
            gone = set(ids) - {m.id for m in claimed.messages}
            done = [*claimed.published, *gone]
            if done:
                await conn.execute(delete(publish_queue).where(queued.in_(done)))
