"""A downlink's source wide enough for the rule that queued it (``rule:`` and a rule name of up
to 128 characters): PostgreSQL enforced the former 16 (SQLite does not enforce a length).

Revision ID: 0017_downlink_source
Revises: 0016_lora_devices
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_downlink_source"
down_revision = "0016_lora_devices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("downlinks", "source", type_=sa.String(140), existing_type=sa.String(16))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("downlinks", "source", type_=sa.String(16), existing_type=sa.String(140))
