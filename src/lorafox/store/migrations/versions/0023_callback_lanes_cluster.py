"""``callback_queue``: on PostgreSQL, the id of every message stored while a DATA callback is
enabled, until an instance has written the rows of the outbox its callbacks owe it (filled by a
trigger on ``messages``, emptied by ``store/sql/callback_queue``).

SQLite has the table too (the schemas stay alike) but no trigger: its one instance makes the
first attempts from its lanes' cursors. On PostgreSQL the messages after the oldest lane cursor
(not yet delivered by the version before, which made first attempts on every instance) are
queued by the upgrade; the rows are then owed only for messages after each callback's cursor.

Revision ID: 0021_callback_lanes_cluster
Revises: 0020_publish_queue
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_callback_lanes_cluster"
down_revision = "0020_publish_queue"
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE OR REPLACE FUNCTION lorafox_callback_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM callbacks
               WHERE enabled AND callback_type = 0 AND NOT downlink_hook) THEN
        INSERT INTO callback_queue (message_id) SELECT id FROM stored_rows;
    END IF;
    RETURN NULL;
END $$
"""

_TRIGGER = """
CREATE TRIGGER messages_callback_queue AFTER INSERT ON messages
REFERENCING NEW TABLE AS stored_rows FOR EACH STATEMENT EXECUTE FUNCTION lorafox_callback_queue()
"""


def upgrade() -> None:
    op.create_table("callback_queue", sa.Column("message_id", sa.BigInteger, primary_key=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "INSERT INTO callback_queue (message_id) SELECT id FROM messages WHERE id > "
        "COALESCE((SELECT MIN(value) FROM cursors WHERE name LIKE 'callback:%'), "
        "(SELECT value FROM cursors WHERE name = 'callbacks'), (SELECT MAX(id) FROM messages))"
    )
    op.execute(_FUNCTION)
    op.execute("DROP TRIGGER IF EXISTS messages_callback_queue ON messages")
    op.execute(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS messages_callback_queue ON messages")
        op.execute("DROP FUNCTION IF EXISTS lorafox_callback_queue()")
    op.drop_table("callback_queue")
