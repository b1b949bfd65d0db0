"""Messages and STATUS reports dated far in the future are dated when they were received.

Callbacks once accepted a ``time`` in milliseconds where Sigfox sends seconds, dating a message
tens of thousands of years ahead: it sorted first in every listing and froze its device's
``lastCom`` and sequence tracking. Callbacks now refuse such times; the rows stored before are
given the time lorafox received them (the best that is known).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_SKEW_MS = 2 * 24 * 3600 * 1000
"""What callbacks accept beyond their receiving time (clock skew)."""


def upgrade() -> None:
    for statement in (
        "UPDATE messages SET time = received_at WHERE time > received_at + :skew",
        # STATUS rows are unique per (device, time): drop one that would collide once redated
        "DELETE FROM device_status WHERE time > received_at + :skew AND EXISTS ("
        "SELECT 1 FROM device_status other WHERE other.device = device_status.device "
        "AND other.time = device_status.received_at)",
        "UPDATE device_status SET time = received_at WHERE time > received_at + :skew",
    ):
        op.execute(sa.text(statement).bindparams(skew=_SKEW_MS))


def downgrade() -> None:
    """The former times are not kept: nothing to undo."""
