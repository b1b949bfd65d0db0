"""Alert subscriptions of groups, device types and devices.

Revision ID: 0013_alerts
Revises: 0012_mail
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_alerts"
down_revision = "0012_mail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column(
            "group_id",
            sa.String(24),
            sa.ForeignKey("groups.id", name="fk_alerts_group", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("event_types", sa.JSON, nullable=False),
        sa.Column("device_type_id", sa.String(24)),
        sa.Column("device", sa.String(8)),
        sa.Column("emails", sa.JSON, nullable=False),
        sa.Column("urls", sa.JSON, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("digest_seconds", sa.Integer, nullable=False),
        sa.Column("max_per_hour", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(24)),
    )
    op.create_index("ix_alerts_group", "alerts", ["group_id"])


def downgrade() -> None:
    op.drop_table("alerts")
