"""Stream records of the DynamoDB-compatible tables (DynamoDB Streams).

``ddb_stream_records`` holds one row per change of an item of a table whose stream is enabled:
its id is the record's sequence number, ``label`` the stream it belongs to (a table has a new
stream each time its stream is enabled). Rows older than 24 hours are deleted.

Revision ID: 0010_streams
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_streams"
down_revision = "0009"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ddb_stream_records",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column(
            "table_id",
            _Id,
            sa.ForeignKey("ddb_tables.id", name="fk_ddb_stream_records_table", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("label", sa.String(32), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_ddb_stream_records_stream", "ddb_stream_records", ["table_id", "label", "id"]
    )
    op.create_index("ix_ddb_stream_records_created_at", "ddb_stream_records", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_ddb_stream_records_created_at", "ddb_stream_records")
    op.drop_index("ix_ddb_stream_records_stream", "ddb_stream_records")
    op.drop_table("ddb_stream_records")
