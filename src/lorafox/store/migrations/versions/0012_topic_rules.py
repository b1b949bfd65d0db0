"""Topic rules: AWS IoT rules, each with its TopicRulePayload and the group it belongs to;
the requests of their http actions until they are answered (kept across restarts).

Revision ID: 0011_topic_rules
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_topic_rules"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "topic_rules",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("group_path", sa.String(1024), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
    )
    op.create_index("ix_topic_rules_group_path", "topic_rules", ["group_path", "name"])
    op.create_table(
        "rule_http_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rule_http_outbox")
    op.drop_index("ix_topic_rules_group_path", "topic_rules")
    op.drop_table("topic_rules")
