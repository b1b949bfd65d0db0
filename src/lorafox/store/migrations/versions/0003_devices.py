"""Device types and devices.

A device's group is its device type's; its last communication and sequence number are read from
``messages`` (index on device, time, seq_number), never stored on the device row.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_types",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column(
            "group_id",
            sa.String(24),
            sa.ForeignKey("groups.id", name="fk_device_types_group"),
            nullable=False,
        ),
        sa.Column("keep_alive", sa.Integer, nullable=False),
        sa.Column("alert_email", sa.String(250)),
        sa.Column("downlink_mode", sa.Integer, nullable=False),
        sa.Column("downlink_data", sa.String(64)),
        sa.Column("payload_type", sa.Integer, nullable=False),
        sa.Column("payload_config", sa.String(4000)),
        sa.Column("automatic_renewal", sa.Boolean, nullable=False),
        sa.Column("max_uplinks_per_day", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(24)),
        sa.Column("edited_at", sa.BigInteger),
        sa.Column("edited_by", sa.String(24)),
    )
    op.create_index("ix_device_types_group", "device_types", ["group_id"])
    op.create_table(
        "devices",
        sa.Column("id", sa.String(8), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column(
            "device_type_id",
            sa.String(24),
            sa.ForeignKey("device_types.id", name="fk_devices_device_type"),
            nullable=False,
        ),
        sa.Column("pac", sa.String(16), nullable=False),
        sa.Column("lat", sa.Float),
        sa.Column("lng", sa.Float),
        sa.Column("activable", sa.Boolean, nullable=False),
        sa.Column("automatic_renewal", sa.Boolean, nullable=False),
        sa.Column("provisioned", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(24)),
    )
    op.create_index("ix_devices_device_type", "devices", ["device_type_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_devices_device_type", "devices")
    op.drop_table("devices")
    op.drop_index("ix_device_types_group", "device_types")
    op.drop_table("device_types")
