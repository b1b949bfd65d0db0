"""On PostgreSQL, ``messages`` partitioned by month of ``time`` (see ``store/sql/partitions``).

The table is made again as a partitioned one with the same columns and the same ``(device,
time, seq_number)`` unique key; a default partition and the months from the oldest message (at
most three years back) to three months ahead, each with a unique index of its own on ``id`` (a
key of the partitioned table would have to hold ``time``: the planner would then not know that
an id is one row, and reads by id would scan a month whose statistics are not gathered yet;
ids stay unique, drawn from the same sequence); the rows copied over. SQLite keeps its one
table.

Revision ID: 0019_message_partitions
Revises: 0018_retention
Create Date: 2026-12-04
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0019_message_partitions"
down_revision = "0018_retention"
branch_labels = None
depends_on = None

_MOST_MONTHS_BACK = 36


def _start(index: int) -> int:
    """Epoch ms of month ``index`` (year * 12 + month - 1)."""
    return int(datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC).timestamp() * 1000)


def _index(epoch_ms: int) -> int:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.year * 12 + moment.month - 1


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    partitioned = "SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'messages'::regclass"
    if bind.execute(sa.text(partitioned)).first() is not None:
        return  # a schema set back to an older revision by hand keeps its partitions
    for statement in (
        "ALTER TABLE messages RENAME TO messages_unpartitioned",
        "ALTER TABLE messages_unpartitioned RENAME CONSTRAINT messages_pkey"
        " TO messages_unpartitioned_pkey",
        "ALTER TABLE messages_unpartitioned RENAME CONSTRAINT uq_messages_device_time_seq"
        " TO uq_messages_unpartitioned",
        "CREATE TABLE messages (LIKE messages_unpartitioned INCLUDING DEFAULTS)"
        " PARTITION BY RANGE (time)",
        "ALTER TABLE messages ADD CONSTRAINT uq_messages_device_time_seq"
        " UNIQUE (device, time, seq_number)",
        "ALTER SEQUENCE messages_id_seq OWNED BY messages.id",
        "CREATE TABLE messages_default PARTITION OF messages DEFAULT",
        "CREATE UNIQUE INDEX messages_default_id ON messages_default (id)",
    ):
        op.execute(statement)
    now = _index(int(time.time() * 1000))
    oldest = bind.execute(sa.text("SELECT min(time) FROM messages_unpartitioned")).scalar()
    first = (
        now - 1 if oldest is None else max(min(_index(oldest), now - 1), now - _MOST_MONTHS_BACK)
    )
    for index in range(first, now + 4):
        name = f"messages_p{index // 12:04d}{index % 12 + 1:02d}"
        op.execute(
            f"CREATE TABLE {name} PARTITION OF messages"
            f" FOR VALUES FROM ({_start(index)}) TO ({_start(index + 1)})"
        )
        op.execute(f"CREATE UNIQUE INDEX {name}_id ON {name} (id)")
    op.execute("INSERT INTO messages SELECT * FROM messages_unpartitioned")
    op.execute("DROP TABLE messages_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in (
        "CREATE TABLE messages_unpartitioned (LIKE messages INCLUDING DEFAULTS)",
        "INSERT INTO messages_unpartitioned SELECT * FROM messages",
        "ALTER SEQUENCE messages_id_seq OWNED BY messages_unpartitioned.id",
        "DROP TABLE messages",
        "ALTER TABLE messages_unpartitioned RENAME TO messages",
        "ALTER TABLE messages ADD CONSTRAINT messages_pkey PRIMARY KEY (id)",
        "ALTER TABLE messages ADD CONSTRAINT uq_messages_device_time_seq"
        " UNIQUE (device, time, seq_number)",
    ):
        op.execute(statement)
