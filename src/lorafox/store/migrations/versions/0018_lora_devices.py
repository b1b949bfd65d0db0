"""LoRa devices' downlink routes: the integration that brought each device's latest uplink and
what its downlinks need (a TTS push URL, an AWS wireless device id, ChirpStack ids), so they
survive a restart.

Revision ID: 0016_lora_devices
Revises: 0015_email_callbacks
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_lora_devices"
down_revision = "0015_email_callbacks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lora_devices",
        sa.Column("dev_eui", sa.String(16), primary_key=True),
        sa.Column("integration_id", sa.String(24)),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lora_devices")
