"""The SQL schema (SQLAlchemy Core). Change it only together with a migration."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

__all__ = ["credentials", "cursors", "downlinks", "messages", "metadata"]

metadata = MetaData()

# SQLite only makes INTEGER PRIMARY KEY an auto-increment rowid.
_Id = BigInteger().with_variant(Integer(), "sqlite")

messages = Table(
    "messages",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("device", String(8), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("seq_number", Integer, nullable=False),
    Column("data", String(24), nullable=False),
    Column("ack", Boolean, nullable=False),
    Column("long_polling", Boolean, nullable=False),
    Column("snr", Float),
    Column("rssi", Float),
    Column("avg_snr", Float),
    Column("station", String(16)),
    Column("lat", Float),
    Column("lng", Float),
    Column("device_type_id", String(64)),
    Column("duplicate", Boolean, nullable=False),
    Column("extra", JSON),
    Column("received_at", BigInteger, nullable=False),
    UniqueConstraint("device", "time", "seq_number", name="uq_messages_device_time_seq"),
)

downlinks = Table(
    "downlinks",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("device", String(8), nullable=False),
    Column("data", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("sent_at", BigInteger),
    Column("answered_seq", Integer),
    Column("answered_time", BigInteger),
    Index("ix_downlinks_device_state", "device", "state", "id"),
    Index("ix_downlinks_answer", "device", "answered_seq", "answered_time"),
)

credentials = Table(
    "credentials",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("username", String(128), nullable=False),
    Column("secret", String(512), nullable=False),
)

cursors = Table(
    "cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
