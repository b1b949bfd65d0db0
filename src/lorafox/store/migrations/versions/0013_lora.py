"""LoRa devices: DevEUIs as device ids, payloads up to 255 bytes, LoRa integrations, and what a
LoRa downlink adds (fPort, confirmed, the network server's id).

SQLite does not enforce ``VARCHAR`` lengths, so the columns are widened on PostgreSQL only.

Revision ID: lora_0010
Revises: 0011_topic_rules
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lora_0010"
down_revision = "0011_topic_rules"
branch_labels = None
depends_on = None

_DEVICE_COLUMNS = (
    ("messages", "device"),
    ("downlinks", "device"),
    ("device_status", "device"),
    ("events", "device"),
    ("device_alerts", "device"),
    ("devices", "id"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in _DEVICE_COLUMNS:
            op.alter_column(table, column, type_=sa.String(16), existing_type=sa.String(8))
        op.alter_column("messages", "data", type_=sa.String(512), existing_type=sa.String(24))
        op.alter_column("downlinks", "data", type_=sa.String(512), existing_type=sa.String(16))
    inspector = sa.inspect(op.get_bind())
    present = {c["name"] for c in inspector.get_columns("downlinks")}
    with op.batch_alter_table("downlinks") as batch:  # idempotent: a re-stamped database
        for added in (
            sa.Column("port", sa.Integer),
            sa.Column("confirmed", sa.Boolean),
            sa.Column("network_id", sa.String(128)),
        ):
            if added.name not in present:
                batch.add_column(added)
    if inspector.has_table("lora_integrations"):
        return
    op.create_table(
        "lora_integrations",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column(
            "group_id",
            sa.String(24),
            sa.ForeignKey("groups.id", name="fk_lora_integrations_group"),
            nullable=False,
        ),
        sa.Column("device_type_id", sa.String(24)),
        sa.Column("app_eui", sa.String(16)),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_lora_integrations_group", "lora_integrations", ["group_id"])


def downgrade() -> None:
    op.drop_index("ix_lora_integrations_group", "lora_integrations")
    op.drop_table("lora_integrations")
    with op.batch_alter_table("downlinks") as batch:
        batch.drop_column("network_id")
        batch.drop_column("confirmed")
        batch.drop_column("port")
