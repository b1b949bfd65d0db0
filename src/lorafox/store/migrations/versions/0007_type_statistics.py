"""Hourly statistics of device types, kept up to date as messages and reports are stored.

Messages get DATA_ADVANCED's link quality and number of base stations as columns (statistics
read them without parsing JSON).

One row per device type and hour: counts, sums, minimums and maximums of what the statistics
of a device type show, so that they read a few hundred rows instead of every message of every
device of the type. The existing messages, link qualities and STATUS reports are counted in.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lorafox.store.sql.rollup import backfill

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("link_quality", sa.Integer))
    op.add_column("messages", sa.Column("stations", sa.Integer))
    op.create_table(
        "type_hourly",
        sa.Column("device_type_id", sa.String(24), nullable=False),
        sa.Column("hour", sa.BigInteger, nullable=False),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("chars", sa.BigInteger, nullable=False),
        sa.Column("snr_n", sa.Integer, nullable=False),
        sa.Column("snr_sum", sa.Float, nullable=False),
        sa.Column("snr_min", sa.Float),
        sa.Column("snr_max", sa.Float),
        sa.Column("rssi_n", sa.Integer, nullable=False),
        sa.Column("rssi_sum", sa.Float, nullable=False),
        sa.Column("rssi_min", sa.Float),
        sa.Column("rssi_max", sa.Float),
        sa.Column("freq_n", sa.Integer, nullable=False),
        sa.Column("freq_sum", sa.Float, nullable=False),
        sa.Column("freq_min", sa.Float),
        sa.Column("freq_max", sa.Float),
        sa.Column("bs_n", sa.Integer, nullable=False),
        sa.Column("bs_sum", sa.Float, nullable=False),
        sa.Column("bs_min", sa.Float),
        sa.Column("bs_max", sa.Float),
        sa.Column("bs_1", sa.Integer, nullable=False),
        sa.Column("bs_2", sa.Integer, nullable=False),
        sa.Column("bs_3", sa.Integer, nullable=False),
        sa.Column("lqi_0", sa.Integer, nullable=False),
        sa.Column("lqi_1", sa.Integer, nullable=False),
        sa.Column("lqi_2", sa.Integer, nullable=False),
        sa.Column("lqi_3", sa.Integer, nullable=False),
        sa.Column("lqi_4", sa.Integer, nullable=False),
        sa.Column("reports", sa.Integer, nullable=False),
        sa.Column("dl_sent", sa.Integer, nullable=False),
        sa.Column("dl_acked", sa.Integer, nullable=False),
        sa.Column("dl_failed", sa.Integer, nullable=False),
        sa.Column("dl_expired", sa.Integer, nullable=False),
        sa.Column("temp_n", sa.Integer, nullable=False),
        sa.Column("temp_sum", sa.Float, nullable=False),
        sa.Column("temp_min", sa.Float),
        sa.Column("temp_max", sa.Float),
        sa.Column("batt_n", sa.Integer, nullable=False),
        sa.Column("batt_sum", sa.Float, nullable=False),
        sa.Column("batt_min", sa.Float),
        sa.Column("batt_max", sa.Float),
        sa.PrimaryKeyConstraint("device_type_id", "hour", name="pk_type_hourly"),
    )
    backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("type_hourly")
    op.drop_column("messages", "stations")
    op.drop_column("messages", "link_quality")
