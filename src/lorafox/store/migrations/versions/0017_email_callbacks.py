"""EMAIL callbacks: their recipients, subject and message patterns.

Revision ID: 0015_email_callbacks
Revises: 0014_password_tokens
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_email_callbacks"
down_revision = "0014_password_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callbacks") as batch:
        batch.add_column(sa.Column("recipient", sa.String(1024)))
        batch.add_column(sa.Column("subject", sa.String(512)))
        batch.add_column(sa.Column("message", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_column("message")
        batch.drop_column("subject")
        batch.drop_column("recipient")
