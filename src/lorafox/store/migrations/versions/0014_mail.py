"""The mail outbox: every mail lorafox sends, kept until the server took it or it is given up.

Revision ID: 0012_mail
Revises: lora_0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_mail"
down_revision = "lora_0010"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("recipient", sa.String(1024), nullable=False),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_error", sa.String(500)),
        sa.Column("sent_at", sa.BigInteger),
    )
    op.create_index("ix_mail_outbox_due", "mail_outbox", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("mail_outbox")
