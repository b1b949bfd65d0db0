"""Messages, the downlink queue, credentials and cursors.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(8), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("seq_number", sa.Integer, nullable=False),
        sa.Column("data", sa.String(24), nullable=False),
        sa.Column("ack", sa.Boolean, nullable=False),
        sa.Column("long_polling", sa.Boolean, nullable=False),
        sa.Column("snr", sa.Float),
        sa.Column("rssi", sa.Float),
        sa.Column("avg_snr", sa.Float),
        sa.Column("station", sa.String(16)),
        sa.Column("lat", sa.Float),
        sa.Column("lng", sa.Float),
        sa.Column("device_type_id", sa.String(64)),
        sa.Column("duplicate", sa.Boolean, nullable=False),
        sa.Column("extra", sa.JSON),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("device", "time", "seq_number", name="uq_messages_device_time_seq"),
    )
    op.create_table(
        "downlinks",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(8), nullable=False),
        sa.Column("data", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("sent_at", sa.BigInteger),
        sa.Column("answered_seq", sa.Integer),
        sa.Column("answered_time", sa.BigInteger),
    )
    op.create_index("ix_downlinks_device_state", "downlinks", ["device", "state", "id"])
    op.create_index("ix_downlinks_answer", "downlinks", ["device", "answered_seq", "answered_time"])
    op.create_table(
        "credentials",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("secret", sa.String(512), nullable=False),
    )
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cursors")
    op.drop_table("credentials")
    op.drop_index("ix_downlinks_answer", "downlinks")
    op.drop_index("ix_downlinks_device_state", "downlinks")
    op.drop_table("downlinks")
    op.drop_table("messages")
