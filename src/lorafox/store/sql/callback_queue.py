"""PostgreSQL's queue of messages whose callbacks' first attempts are not yet owed as rows of
the outbox (``callback_queue``, filled by a trigger on ``messages`` while a DATA callback is
enabled), claimed by one instance at a time per message.

``owe`` takes the oldest rows no other transaction holds (``FOR UPDATE SKIP LOCKED``: instances
claim side by side, never the same message), writes the deliveries their messages owe with one
``INSERT … SELECT`` (no message read into Python) and deletes the rows, in one transaction: a
message leaves the queue exactly when its deliveries are owed. An instance that dies rolls its
claim back and the rows are claimed again by another.

Which callbacks owe a message is ``callbacks.lanes.fires`` spelt in SQL, on the callbacks as
the database has them when the claim is made: enabled DATA callbacks of the device's type but
the downlink one, UPLINK always and BIDIR when the message asked for a downlink; none up to the
callback's cursor (the messages a single instance delivered from its lanes before).
"""

from __future__ import annotations

from sqlalchemy import and_, case, delete, func, literal, or_, select

from lorafox.domain import CallbackChannel, CallbackSubtype, CallbackType, DeliveryState
from lorafox.ports.cluster import Owed
from lorafox.store.sql.callbacks import LANE
from lorafox.store.sql.database import Repository
from lorafox.store.sql.tables import (
    callback_deliveries,
    callback_queue,
    callbacks,
    cursors,
    devices,
    messages,
)

__all__ = ["CallbackQueueRepository"]

_COLUMNS = (
    "callback_id",
    "device_type_id",
    "device",
    "message_id",
    "message_time",
    "state",
    "attempts",
    "next_attempt_at",
    "created_at",
)


class CallbackQueueRepository(Repository):
    """Implements ``lorafox.ports.cluster.CallbackQueue``."""

    async def owe(self, limit: int, now: int, batch_delay: int) -> Owed:
        queued = callback_queue.c.message_id
        oldest = select(queued).order_by(queued).limit(limit).with_for_update(skip_locked=True)
        c, m = callbacks.c, messages.c
        cursor = cursors.c.value
        due = case((c.channel == CallbackChannel.BATCH_URL.value, now + batch_delay), else_=now)
        async with self._db.writing() as conn:
            ids = list((await conn.scalars(oldest)).all())
            if not ids:
                return Owed(0, 0)
            owing = (
                select(
                    c.id,
                    c.device_type_id,
                    m.device,
                    m.id,
                    m.time,
                    literal(DeliveryState.PENDING.value),
                    literal(0),
                    due,
                    literal(now),
                )
                .select_from(
                    messages.join(devices, devices.c.id == m.device)
                    .join(callbacks, c.device_type_id == devices.c.device_type_id)
                    .outerjoin(cursors, cursors.c.name == literal(LANE) + c.id)
                )
                .where(
                    m.id.in_(ids),
                    c.enabled,
                    c.callback_type == CallbackType.DATA.value,
                    ~c.downlink_hook,
                    or_(
                        c.callback_subtype == CallbackSubtype.UPLINK.value,
                        and_(c.callback_subtype == CallbackSubtype.BIDIR.value, m.ack),
                    ),
                    m.id > func.coalesce(cursor, 0),
                )
            )
            stmt = self._db.insert(callback_deliveries).from_select(list(_COLUMNS), owing)
            result = await conn.execute(stmt.on_conflict_do_nothing())
            # a message deleted while queued (retention, purge) leaves the queue too
            await conn.execute(delete(callback_queue).where(queued.in_(ids)))
        return Owed(len(ids), max(0, int(result.rowcount or 0)))
