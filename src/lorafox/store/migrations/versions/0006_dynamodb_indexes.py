"""Secondary indexes and client request tokens of the DynamoDB-compatible tables.

``ddb_index_items`` holds one row per (index, item) with the index's key bytes first — the
primary key ``(table_id, index_id, pk, sk, item_pk, item_sk)`` — so a Query on a secondary index
reads one key range, in the index's order, and joins each row to its item in ``ddb_items``.
Index 0 of a table is its time-to-live attribute (``pk`` empty, ``sk`` the encoded expiry), which
the purge reads by range. ``ddb_client_tokens`` remembers TransactWriteItems' client tokens for
ten minutes (idempotency).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ddb_index_items",
        sa.Column(
            "table_id",
            _Id,
            sa.ForeignKey("ddb_tables.id", name="fk_ddb_index_items_table", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("index_id", sa.Integer, nullable=False),
        sa.Column("pk", sa.LargeBinary, nullable=False),
        sa.Column("sk", sa.LargeBinary, nullable=False),
        sa.Column("item_pk", sa.LargeBinary, nullable=False),
        sa.Column("item_sk", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint(
            "table_id", "index_id", "pk", "sk", "item_pk", "item_sk", name="pk_ddb_index_items"
        ),
    )
    op.create_table(
        "ddb_client_tokens",
        sa.Column("token", sa.String(36), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ddb_client_tokens")
    op.drop_table("ddb_index_items")
