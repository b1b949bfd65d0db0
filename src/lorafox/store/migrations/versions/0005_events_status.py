"""Decoded payloads, SERVICE/ERROR callback data, downlink outcomes, events, keep-alive alerts.

- ``messages``: the decoded fields (or why decoding failed) and what the DATA_ADVANCED callback
  adds (link quality, operator, country, base stations as JSON; the computed location in columns
  so that locations are queried, not parsed).
- ``downlinks``: the ACKNOWLEDGE outcome (Sigfox ``infoCode`` and its text), when it ended.
- ``device_status``: STATUS callbacks (temperature, battery voltage), one row per report.
- ``events``: what happened to a device (communication lost/restored, downlink acked/failed/
  expired, low battery, ERROR callbacks, lost messages, registration refused, …).
- ``device_alerts``: devices whose silence was reported, so a restart does not report it again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("messages", sa.Column("decoded", sa.JSON))
    op.add_column("messages", sa.Column("decode_error", sa.String(300)))
    op.add_column("messages", sa.Column("advanced", sa.JSON))
    op.add_column("messages", sa.Column("computed_lat", sa.Float))
    op.add_column("messages", sa.Column("computed_lng", sa.Float))
    op.add_column("messages", sa.Column("computed_radius", sa.Integer))
    op.add_column("messages", sa.Column("computed_source", sa.Integer))
    op.add_column("downlinks", sa.Column("info_code", sa.Integer))
    op.add_column("downlinks", sa.Column("info_message", sa.String(250)))
    op.add_column("downlinks", sa.Column("ended_at", sa.BigInteger))
    op.create_table(
        "device_status",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(8), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("seq_number", sa.Integer),
        sa.Column("temperature", sa.Float),
        sa.Column("battery", sa.Float),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("device", "time", name="uq_device_status_device_time"),
    )
    op.create_table(
        "events",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(8)),
        sa.Column("device_type_id", sa.String(24)),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("data", sa.JSON),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_events_device_time", "events", ["device", "time", "id"])
    op.create_index("ix_events_device_type_time", "events", ["device_type_id", "time", "id"])
    op.create_table(
        "device_alerts",
        sa.Column("device", sa.String(8), primary_key=True),
        sa.Column("silent_since", sa.BigInteger, nullable=False),
        sa.Column("reported_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("device_alerts")
    op.drop_index("ix_events_device_type_time", "events")
    op.drop_index("ix_events_device_time", "events")
    op.drop_table("events")
    op.drop_table("device_status")
    for column in ("ended_at", "info_message", "info_code"):
        op.drop_column("downlinks", column)
    for column in (
        "computed_source",
        "computed_radius",
        "computed_lng",
        "computed_lat",
        "advanced",
        "decode_error",
        "decoded",
    ):
        op.drop_column("messages", column)
