"""Single-use links of invitations and password resets (their tokens' SHA-256 only).

Revision ID: 0014_password_tokens
Revises: 0013_alerts
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_password_tokens"
down_revision = "0013_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "password_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(24),
            sa.ForeignKey("users.id", name="fk_password_tokens_user", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("used_at", sa.BigInteger),
    )
    op.create_index("ix_password_tokens_user", "password_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_table("password_tokens")
