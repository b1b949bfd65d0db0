"""DynamoDB-compatible tables and their items.

``ddb_items`` is keyed by (table, partition key bytes, sort key bytes), the bytes being
``lorafox.tables.keys.encode_key_value`` of the key values (``memcmp`` order = DynamoDB's
order), so a Query reads one index range and never the rest of the table. Tables without a sort
key store an empty ``sk``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ddb_tables",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("ttl_attribute", sa.String(255)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ddb_items",
        sa.Column(
            "table_id",
            _Id,
            sa.ForeignKey("ddb_tables.id", name="fk_ddb_items_table", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("pk", sa.LargeBinary, nullable=False),
        sa.Column("sk", sa.LargeBinary, nullable=False),
        sa.Column("item", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("table_id", "pk", "sk", name="pk_ddb_items"),
    )


def downgrade() -> None:
    op.drop_table("ddb_items")
    op.drop_table("ddb_tables")
