"""``ix_events_type_time``: the events of some types, newest first, without reading them all
(the console's problem pages list rejected downlinks, failing rules and refused
registrations of every device).

Revision ID: 0024_console_diagnose
Revises: 0023_shared_jobs
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0024_console_diagnose"
down_revision = "0023_shared_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_type_time", "events", ["type", "time", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_type_time", "events")
