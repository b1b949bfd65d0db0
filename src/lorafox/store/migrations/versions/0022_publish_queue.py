"""``publish_queue``: on PostgreSQL, the id of every stored message until one instance has
published it on the bus (filled by a trigger on ``messages``, emptied by the publisher).

SQLite has the table too (the schemas stay alike) but no trigger: its one instance publishes
from memory with the ``published`` cursor. On PostgreSQL the messages stored after that cursor
(not yet published by the version before) are queued by the upgrade.

Revision ID: 0020_publish_queue
Revises: 0019_message_partitions
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_publish_queue"
down_revision = "0019_message_partitions"
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE OR REPLACE FUNCTION lorafox_publish_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO publish_queue (message_id) SELECT id FROM stored_rows;
    RETURN NULL;
END $$
"""

_TRIGGER = """
CREATE TRIGGER messages_publish_queue AFTER INSERT ON messages
REFERENCING NEW TABLE AS stored_rows FOR EACH STATEMENT EXECUTE FUNCTION lorafox_publish_queue()
"""


def upgrade() -> None:
    op.create_table("publish_queue", sa.Column("message_id", sa.BigInteger, primary_key=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "INSERT INTO publish_queue (message_id) SELECT id FROM messages WHERE id > "
        "COALESCE((SELECT value FROM cursors WHERE name = 'published'), "
        "(SELECT MAX(id) FROM messages))"
    )
    op.execute(_FUNCTION)
    op.execute("DROP TRIGGER IF EXISTS messages_publish_queue ON messages")
    op.execute(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS messages_publish_queue ON messages")
        op.execute("DROP FUNCTION IF EXISTS lorafox_publish_queue()")
    op.drop_table("publish_queue")
