"""A device type's retention: how many days its devices' messages and events are kept.

Revision ID: 0018_retention
Revises: 0017_downlink_source
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_retention"
down_revision = "0017_downlink_source"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("device_types", sa.Column("retention_days", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_types") as batch:
        batch.drop_column("retention_days")
