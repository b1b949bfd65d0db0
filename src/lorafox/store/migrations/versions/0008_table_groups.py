"""DynamoDB-compatible tables belong to a group: visible within its subtree only.

The tables that exist belong to the root group.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ddb_tables", sa.Column("group_path", sa.String(1024)))
    op.execute(
        "UPDATE ddb_tables SET group_path = "
        "(SELECT path FROM groups WHERE parent_id IS NULL ORDER BY created_at LIMIT 1)"
    )
    op.create_index("ix_ddb_tables_group_path", "ddb_tables", ["group_path", "name"])


def downgrade() -> None:
    op.drop_index("ix_ddb_tables_group_path", "ddb_tables")
    with op.batch_alter_table("ddb_tables") as batch:
        batch.drop_column("group_path")
