"""Jobs instances share: the topic rules' http requests claimed with a lease, and MQTT downlink
requests made idempotent by their ``requestId``.

``rule_http_outbox`` gets ``claimed_by`` (the instance sending the request) and
``claimed_until`` (epoch ms: when the claim lapses and any instance may send it; 0 for the rows
kept before, which the next sweep claims). ``downlinks`` gets ``request_id``, unique per device
(NULLs are distinct: requests without one are never merged).

Revision ID: 0023_shared_jobs
Revises: 0022_console_sessions
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_shared_jobs"
down_revision = "0022_console_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rule_http_outbox", sa.Column("claimed_by", sa.String(64)))
    op.add_column(
        "rule_http_outbox",
        sa.Column("claimed_until", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("ix_rule_http_outbox_claim", "rule_http_outbox", ["claimed_until", "id"])
    op.add_column("downlinks", sa.Column("request_id", sa.String(64)))
    op.create_index("ux_downlinks_request", "downlinks", ["device", "request_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_downlinks_request", table_name="downlinks")
    op.drop_column("downlinks", "request_id")
    op.drop_index("ix_rule_http_outbox_claim", table_name="rule_http_outbox")
    op.drop_column("rule_http_outbox", "claimed_until")
    op.drop_column("rule_http_outbox", "claimed_by")
