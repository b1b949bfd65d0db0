"""Outgoing callbacks of device types, and the deliveries each message or report owes.

Revision ID: 0011
Revises: 0010_streams
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010_streams"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column(
            "device_type_id",
            sa.String(24),
            sa.ForeignKey("device_types.id", name="fk_callbacks_device_type", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("callback_type", sa.Integer, nullable=False),
        sa.Column("callback_subtype", sa.Integer, nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("http_method", sa.String(8), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("send_duplicate", sa.Boolean, nullable=False),
        sa.Column("send_sni", sa.Boolean, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("content_type", sa.String(256)),
        sa.Column("body_template", sa.Text),
        sa.Column("line_pattern", sa.String(2048)),
        sa.Column("downlink_hook", sa.Boolean, nullable=False),
        sa.Column("dead", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_callbacks_device_type", "callbacks", ["device_type_id"])
    op.create_table(
        "callback_deliveries",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column(
            "callback_id",
            sa.String(24),
            sa.ForeignKey(
                "callbacks.id", name="fk_callback_deliveries_callback", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("device_type_id", sa.String(24), nullable=False),
        sa.Column("device", sa.String(16), nullable=False),
        sa.Column("message_id", sa.BigInteger),
        sa.Column("report_key", sa.String(64)),
        sa.Column("variables", sa.JSON),
        sa.Column("message_time", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.String(500)),
        sa.Column("ended_at", sa.BigInteger),
        sa.UniqueConstraint("callback_id", "message_id", name="uq_callback_deliveries_message"),
        sa.UniqueConstraint("callback_id", "report_key", name="uq_callback_deliveries_report"),
    )
    op.create_index(
        "ix_callback_deliveries_due", "callback_deliveries", ["state", "next_attempt_at"]
    )
    op.create_index("ix_callback_deliveries_device", "callback_deliveries", ["device", "id"])
    op.create_index("ix_callback_deliveries_type", "callback_deliveries", ["device_type_id", "id"])


def downgrade() -> None:
    op.drop_table("callback_deliveries")
    op.drop_table("callbacks")
