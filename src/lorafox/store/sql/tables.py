"""The SQL schema (SQLAlchemy Core). Change it only together with a migration."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "alerts",
    "api_users",
    "callback_deliveries",
    "callback_queue",
    "callbacks",
    "console_sessions",
    "credentials",
    "cursors",
    "ddb_client_tokens",
    "ddb_index_items",
    "ddb_items",
    "ddb_stream_records",
    "ddb_tables",
    "device_alerts",
    "device_status",
    "device_types",
    "devices",
    "downlinks",
    "events",
    "groups",
    "lora_devices",
    "lora_integrations",
    "mail_outbox",
    "messages",
    "metadata",
    "password_tokens",
    "rule_http_outbox",
    "topic_rules",
    "type_hourly",
    "user_roles",
    "users",
]

metadata = MetaData()

# SQLite only makes INTEGER PRIMARY KEY an auto-increment rowid.
_Id = BigInteger().with_variant(Integer(), "sqlite")

messages = Table(
    "messages",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("device", String(16), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("seq_number", Integer, nullable=False),
    Column("data", String(512), nullable=False),  # Sigfox: up to 24 hex digits; LoRa: 510
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
    # revision 0005: decoding and the DATA_ADVANCED callback
    Column("decoded", JSON),
    Column("decode_error", String(300)),
    Column("advanced", JSON),
    Column("computed_lat", Float),
    Column("computed_lng", Float),
    Column("computed_radius", Integer),
    Column("computed_source", Integer),
    # revision 0007: DATA_ADVANCED's link quality (0 LIMIT … 4 NA) and number of base stations
    Column("link_quality", Integer),
    Column("stations", Integer),
    UniqueConstraint("device", "time", "seq_number", name="uq_messages_device_time_seq"),
)

downlinks = Table(
    "downlinks",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("device", String(16), nullable=False),
    Column("data", String(512), nullable=False),
    Column("state", String(16), nullable=False),
    Column("source", String(140), nullable=False),  # mqtt, rest, direct, rule:<name ≤ 128>
    Column("created_at", BigInteger, nullable=False),
    Column("sent_at", BigInteger),
    Column("answered_seq", Integer),
    Column("answered_time", BigInteger),
    # revision 0005: the ACKNOWLEDGE outcome
    Column("info_code", Integer),
    Column("info_message", String(250)),
    Column("ended_at", BigInteger),
    # revision lora_0010: a LoRa downlink's fPort, confirmation, and the network server's id
    Column("port", Integer),
    Column("confirmed", Boolean),
    Column("network_id", String(128)),
    # revision 0023_shared_jobs: the requestId of an MQTT request (one downlink per device and id)
    Column("request_id", String(64)),
    Index("ix_downlinks_device_state", "device", "state", "id"),
    Index("ix_downlinks_answer", "device", "answered_seq", "answered_time"),
    Index("ux_downlinks_request", "device", "request_id", unique=True),
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

publish_queue = Table(
    "publish_queue",
    metadata,
    Column("message_id", BigInteger, primary_key=True, autoincrement=False),
)
"""PostgreSQL: messages not yet published on the bus (revision 0020, filled by a trigger)."""

callback_queue = Table(
    "callback_queue",
    metadata,
    Column("message_id", BigInteger, primary_key=True, autoincrement=False),
)
"""PostgreSQL: messages whose callbacks' first attempts are not yet owed as rows of the outbox
(revision 0021_callback_lanes_cluster, filled by a trigger while a callback is enabled)."""

# -- SERVICE/ERROR callbacks and events (revision 0005) --------------------------------------

device_status = Table(
    "device_status",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("device", String(16), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("seq_number", Integer),
    Column("temperature", Float),  # °C
    Column("battery", Float),  # volts
    Column("received_at", BigInteger, nullable=False),
    UniqueConstraint("device", "time", name="uq_device_status_device_time"),
)

events = Table(
    "events",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("device", String(16)),
    Column("device_type_id", String(24)),
    Column("type", String(32), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("message", String(500), nullable=False),
    Column("data", JSON),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_events_device_time", "device", "time", "id"),
    Index("ix_events_device_type_time", "device_type_id", "time", "id"),
    # revision 0024_console_diagnose: the events of some types, newest first (problem pages)
    Index("ix_events_type_time", "type", "time", "id"),
)

device_alerts = Table(
    "device_alerts",
    metadata,
    Column("device", String(16), primary_key=True),
    Column("silent_since", BigInteger, nullable=False),
    Column("reported_at", BigInteger, nullable=False),
)

# -- identity (revision 0002) ----------------------------------------------------------------

groups = Table(
    "groups",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("description", String(300), nullable=False),
    Column("type", Integer, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("parent_id", String(24), ForeignKey("groups.id", name="fk_groups_parent")),
    Column("path", String(1024), nullable=False),
    Column("created_by", String(24)),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("path", name="uq_groups_path"),
    Index("ix_groups_parent", "parent_id"),
)

users = Table(
    "users",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("email", String(250), nullable=False),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_login_at", BigInteger),
    UniqueConstraint("email", name="uq_users_email"),
)

user_roles = Table(
    "user_roles",
    metadata,
    Column(
        "user_id",
        String(24),
        ForeignKey("users.id", name="fk_user_roles_user", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "group_id",
        String(24),
        ForeignKey("groups.id", name="fk_user_roles_group"),
        primary_key=True,
    ),
    Column("profile", String(16), primary_key=True),
    Index("ix_user_roles_group", "group_id"),
)

api_users = Table(
    "api_users",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column(
        "group_id", String(24), ForeignKey("groups.id", name="fk_api_users_group"), nullable=False
    ),
    Column("profiles", String(64), nullable=False),  # comma-separated Profile values
    Column("secret", String(512), nullable=False),  # SecretBox-encrypted, never a hash
    Column("created_at", BigInteger, nullable=False),
    Index("ix_api_users_group", "group_id"),
)

# -- devices (revision 0003) -----------------------------------------------------------------

device_types = Table(
    "device_types",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("description", String(300), nullable=False),
    Column(
        "group_id",
        String(24),
        ForeignKey("groups.id", name="fk_device_types_group"),
        nullable=False,
    ),
    Column("keep_alive", Integer, nullable=False),
    Column("alert_email", String(250)),
    Column("downlink_mode", Integer, nullable=False),
    Column("downlink_data", String(64)),
    Column("payload_type", Integer, nullable=False),
    Column("payload_config", String(4000)),
    Column("automatic_renewal", Boolean, nullable=False),
    Column("max_uplinks_per_day", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(24)),
    Column("edited_at", BigInteger),
    Column("edited_by", String(24)),
    # revision 0020: how long its messages and events are kept
    Column("retention_days", Integer),
    Index("ix_device_types_group", "group_id"),
)

devices = Table(
    "devices",
    metadata,
    Column(
        "id", String(16), primary_key=True
    ),  # Sigfox: upper case, no leading zeros; LoRa: 16 lower-case hex
    Column("name", String(100), nullable=False),
    Column(
        "device_type_id",
        String(24),
        ForeignKey("device_types.id", name="fk_devices_device_type"),
        nullable=False,
    ),
    Column("pac", String(16), nullable=False),
    Column("lat", Float),
    Column("lng", Float),
    Column("activable", Boolean, nullable=False),
    Column("automatic_renewal", Boolean, nullable=False),
    Column("provisioned", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(24)),
    Index("ix_devices_device_type", "device_type_id", "id"),
)

# DynamoDB-compatible tables (migration 0004): pk/sk are encode_key_value bytes (memcmp order).
ddb_tables = Table(
    "ddb_tables",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("definition", Text, nullable=False),  # JSON: KeySchema, AttributeDefinitions, …
    Column("ttl_attribute", String(255)),
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),  # ms since the epoch
    Column("group_path", String(1024)),  # the owning group's path; its subtree sees the table
    Index("ix_ddb_tables_group_path", "group_path", "name"),
)

ddb_items = Table(
    "ddb_items",
    metadata,
    Column(
        "table_id",
        _Id,
        ForeignKey("ddb_tables.id", name="fk_ddb_items_table", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("pk", LargeBinary, nullable=False),
    Column("sk", LargeBinary, nullable=False),  # b"" when the table has no sort key
    Column("item", Text, nullable=False),  # the item as JSON, DynamoDB wire form
    Column("size", Integer, nullable=False),
    PrimaryKeyConstraint("table_id", "pk", "sk", name="pk_ddb_items"),
)

# Secondary indexes and client tokens of the DynamoDB-compatible tables (migration 0006).
# An index row points at its item (item_pk, item_sk); the index's own key bytes come first so
# that a Query on an index reads one range of this primary key, in the index's order.
ddb_index_items = Table(
    "ddb_index_items",
    metadata,
    Column(
        "table_id",
        _Id,
        ForeignKey("ddb_tables.id", name="fk_ddb_index_items_table", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("index_id", Integer, nullable=False),  # 0: the time-to-live attribute
    Column("pk", LargeBinary, nullable=False),  # b"" for the time-to-live index
    Column("sk", LargeBinary, nullable=False),  # b"" when the index has no sort key
    Column("item_pk", LargeBinary, nullable=False),
    Column("item_sk", LargeBinary, nullable=False),
    PrimaryKeyConstraint(
        "table_id", "index_id", "pk", "sk", "item_pk", "item_sk", name="pk_ddb_index_items"
    ),
)

ddb_client_tokens = Table(
    "ddb_client_tokens",
    metadata,
    Column("token", String(36), primary_key=True),  # TransactWriteItems' ClientRequestToken
    Column("digest", String(64), nullable=False),  # SHA-256 of the request's other parameters
    Column("created_at", BigInteger, nullable=False),  # ms since the epoch
)

# Stream records of DynamoDB-compatible tables (migration 0010_streams): one row per change of
# an item of a table with a stream, in the order of its id (the record's sequence number);
# kept 24 hours.
ddb_stream_records = Table(
    "ddb_stream_records",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column(
        "table_id",
        _Id,
        ForeignKey("ddb_tables.id", name="fk_ddb_stream_records_table", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("label", String(32), nullable=False),  # the stream's label (its creation time)
    Column("created_at", BigInteger, nullable=False),  # ms since the epoch
    Column("record", Text, nullable=False),  # JSON: the record without its sequence number
    Index("ix_ddb_stream_records_stream", "table_id", "label", "id"),
    Index("ix_ddb_stream_records_created_at", "created_at"),
)

# Statistics of device types (migration 0007): one row per device type and hour, added to in
# the transaction that stores what it counts (messages at ingest; DATA_ADVANCED's link quality
# and base stations; STATUS reports). A message counts in the type its device was in then.
type_hourly = Table(
    "type_hourly",
    metadata,
    Column("device_type_id", String(24), nullable=False),
    Column("hour", BigInteger, nullable=False),  # epoch ms // 3,600,000
    Column("messages", Integer, nullable=False),
    Column("chars", BigInteger, nullable=False),  # hex digits of the payloads: bytes * 2
    Column("snr_n", Integer, nullable=False),
    Column("snr_sum", Float, nullable=False),
    Column("snr_min", Float),
    Column("snr_max", Float),
    Column("rssi_n", Integer, nullable=False),
    Column("rssi_sum", Float, nullable=False),
    Column("rssi_min", Float),
    Column("rssi_max", Float),
    Column("freq_n", Integer, nullable=False),
    Column("freq_sum", Float, nullable=False),
    Column("freq_min", Float),
    Column("freq_max", Float),
    Column("bs_n", Integer, nullable=False),
    Column("bs_sum", Float, nullable=False),
    Column("bs_min", Float),
    Column("bs_max", Float),
    Column("bs_1", Integer, nullable=False),  # messages heard by 1, 2, 3+ base stations
    Column("bs_2", Integer, nullable=False),
    Column("bs_3", Integer, nullable=False),
    Column("lqi_0", Integer, nullable=False),
    Column("lqi_1", Integer, nullable=False),
    Column("lqi_2", Integer, nullable=False),
    Column("lqi_3", Integer, nullable=False),
    Column("lqi_4", Integer, nullable=False),
    Column("reports", Integer, nullable=False),  # STATUS callbacks
    # downlinks: sent in the hour (sent_at), acked / failed / expired in it (ended_at)
    Column("dl_sent", Integer, nullable=False),
    Column("dl_acked", Integer, nullable=False),
    Column("dl_failed", Integer, nullable=False),
    Column("dl_expired", Integer, nullable=False),
    Column("temp_n", Integer, nullable=False),
    Column("temp_sum", Float, nullable=False),
    Column("temp_min", Float),
    Column("temp_max", Float),
    Column("batt_n", Integer, nullable=False),
    Column("batt_sum", Float, nullable=False),
    Column("batt_min", Float),
    Column("batt_max", Float),
    PrimaryKeyConstraint("device_type_id", "hour", name="pk_type_hourly"),
)

callbacks = Table(
    "callbacks",
    metadata,
    Column("id", String(24), primary_key=True),
    Column(
        "device_type_id",
        String(24),
        ForeignKey("device_types.id", name="fk_callbacks_device_type", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("channel", String(16), nullable=False),
    Column("callback_type", Integer, nullable=False),
    Column("callback_subtype", Integer, nullable=False),
    Column("url", String(2048), nullable=False),
    Column("http_method", String(8), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("send_duplicate", Boolean, nullable=False),
    Column("send_sni", Boolean, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("content_type", String(256)),
    Column("body_template", Text),
    Column("line_pattern", String(2048)),
    Column("downlink_hook", Boolean, nullable=False),
    Column("dead", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("recipient", String(1024)),
    Column("subject", String(512)),
    Column("message", Text),
    Index("ix_callbacks_device_type", "device_type_id"),
)

callback_deliveries = Table(
    "callback_deliveries",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column(
        "callback_id",
        String(24),
        ForeignKey("callbacks.id", name="fk_callback_deliveries_callback", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("device_type_id", String(24), nullable=False),
    Column("device", String(16), nullable=False),
    Column("message_id", BigInteger),
    Column("report_key", String(64)),
    Column("variables", JSON),
    Column("message_time", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_status", Integer),
    Column("last_error", String(500)),
    Column("ended_at", BigInteger),
    UniqueConstraint("callback_id", "message_id", name="uq_callback_deliveries_message"),
    UniqueConstraint("callback_id", "report_key", name="uq_callback_deliveries_report"),
    Index("ix_callback_deliveries_due", "state", "next_attempt_at"),
    Index("ix_callback_deliveries_device", "device", "id"),
    Index("ix_callback_deliveries_type", "device_type_id", "id"),
)

topic_rules = Table(
    "topic_rules",
    metadata,
    Column("name", String(128), primary_key=True),  # unique across groups, as in an AWS account
    Column("group_path", String(1024), nullable=False),  # the owning group: its subtree
    Column("definition", Text, nullable=False),  # JSON: the TopicRulePayload as given
    Column("disabled", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),  # seconds since the epoch, as AWS gives it
    Column("owner", String(255), nullable=False),
    Index("ix_topic_rules_group_path", "group_path", "name"),
)

rule_http_outbox = Table(
    "rule_http_outbox",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("rule", String(128), nullable=False),
    Column("url", Text, nullable=False),
    Column("headers", Text, nullable=False),  # JSON object
    Column("body", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),  # ms since the epoch
    # revision 0023_shared_jobs: the instance sending it, until when (0: anyone may, now)
    Column("claimed_by", String(64)),
    Column("claimed_until", BigInteger, nullable=False, server_default="0"),
    Index("ix_rule_http_outbox_claim", "claimed_until", "id"),
)

# LoRa (revision lora_0010): the network servers that feed a group, and what LoRa downlinks add.
lora_integrations = Table(
    "lora_integrations",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(24), nullable=False),
    Column(
        "group_id",
        String(24),
        ForeignKey("groups.id", name="fk_lora_integrations_group"),
        nullable=False,
    ),
    Column("device_type_id", String(24)),
    Column("app_eui", String(16)),
    Column("config", JSON, nullable=False),
    Column("token_hash", String(64), nullable=False),  # SHA-256 of the Bearer token, hex
    Column("created_at", BigInteger, nullable=False),
    Index("ix_lora_integrations_group", "group_id"),
)

lora_devices = Table(
    "lora_devices",
    metadata,
    Column("dev_eui", String(16), primary_key=True),
    Column("integration_id", String(24)),  # the one that brought its latest uplink
    Column("context", JSON, nullable=False),  # what its downlinks need (push URL, ids)
    Column("updated_at", BigInteger, nullable=False),
)

mail_outbox = Table(
    "mail_outbox",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("recipient", String(1024), nullable=False),
    Column("subject", String(998), nullable=False),
    Column("body", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_error", String(500)),
    Column("sent_at", BigInteger),
    Index("ix_mail_outbox_due", "state", "next_attempt_at"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(24), primary_key=True),
    Column(
        "group_id",
        String(24),
        ForeignKey("groups.id", name="fk_alerts_group", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(128), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("device_type_id", String(24)),
    Column("device", String(8)),
    Column("emails", JSON, nullable=False),
    Column("urls", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("digest_seconds", Integer, nullable=False),
    Column("max_per_hour", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(24)),
    Index("ix_alerts_group", "group_id"),
)

password_tokens = Table(
    "password_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "user_id",
        String(24),
        ForeignKey("users.id", name="fk_password_tokens_user", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("purpose", String(16), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("used_at", BigInteger),
    Index("ix_password_tokens_user", "user_id"),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column(
        "user_id",
        String(24),
        ForeignKey("users.id", name="fk_console_sessions_user", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("created_at", BigInteger, nullable=False),
    Column("seen_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_console_sessions_user", "user_id"),
    Index("ix_console_sessions_expires", "expires_at"),
)
