"""Settings: built once by the CLI and passed down.

Sources, strongest first: command-line flags (passed as keyword arguments), environment variables
(``LORAFOX_HTTP_PORT``, nested sections with ``__``: ``LORAFOX_SIGFOX__ALLOWED_NETWORKS``), a TOML
file (``--config``), then the defaults below.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = [
    "ConsoleSettings",
    "EventSettings",
    "MailSettings",
    "MqttSettings",
    "RulesSettings",
    "Settings",
    "SigfoxSettings",
    "TablesSettings",
    "default_data_dir",
]

SIGFOX_NETWORK = "185.110.96.0/22"
"""The network the Sigfox Back-End calls from (documented value for ``allowed_networks``)."""

_TOPIC_EXPR = re.compile(r"^topic\((\d+)\)$")


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/lorafox``, or ``~/.local/share/lorafox``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "lorafox"


class _AllowedNetworks(BaseModel):
    """``allowed_networks``: a list of networks, also given as one comma-separated string."""

    allowed_networks: list[str]

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"not a network: {network!r}") from exc
        return value


class SigfoxSettings(_AllowedNetworks):
    """The Sigfox callbacks (``/sigfox/*``)."""

    allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=f"Networks allowed to call /sigfox/*; empty = any. Sigfox: {SIGFOX_NETWORK}",
    )
    trust_forwarded_for: bool = Field(
        default=False,
        description="Take the caller's address from X-Forwarded-For (behind a reverse proxy).",
    )
    unknown_devices: Literal["provision", "refuse"] = Field(
        default="provision",
        description="Uplinks of devices not registered: create the device (in the callback's "
        'deviceTypeId type if it exists, else the root group\'s "Unregistered" type) or refuse '
        "them with 404, as Sigfox does.",
    )


class MqttSettings(BaseModel):
    """Topics, and the TLS files for an external broker."""

    uplink_topic: str = Field(default="sigfox/uplink/{device}", description="Where uplinks go.")
    downlink_topic: str = Field(
        default="sigfox/downlink/+", description="Topic filter the downlink requests arrive on."
    )
    downlink_field: str = Field(default="downlinkData", description="JSON field of the payload.")
    downlink_device: str = Field(
        default="topic(3)",
        description="Where the device id comes from: topic(N) (1-based level) or a JSON field.",
    )
    events_topic: str = Field(default="sigfox/events/{device}", description="Device events.")
    ca_file: Path | None = Field(default=None, description="CA bundle to verify the broker.")
    cert_file: Path | None = Field(default=None, description="Client certificate (PEM).")
    key_file: Path | None = Field(default=None, description="Client private key (PEM).")
    client_id: str = Field(default="lorafox", description="Client id on an external broker.")
    qos: int = Field(default=1, ge=0, le=1, description="QoS of lorafox's own publishes.")
    allow_anonymous: bool = Field(
        default=False,
        description="Let clients of the embedded broker in without a login (full access). Off "
        "by default whatever the listening address: behind a local proxy every client looks "
        "local.",
    )
    max_connections: int = Field(
        default=10_000, ge=1, description="Embedded broker: open client connections at most."
    )
    max_connections_per_address: int = Field(
        default=1_000,
        ge=1,
        description="Embedded broker: open connections from one IP address at most (behind a "
        "proxy every client shares its address: raise it to max_connections).",
    )
    max_unauthenticated: int = Field(
        default=256, ge=1, description="Embedded broker: connections not logged in yet at most."
    )
    max_connect_bytes: int = Field(
        default=65_536,
        ge=64,
        description="Embedded broker: the largest packet before the login (CONNECT and will).",
    )
    connect_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Embedded broker: seconds to log in after connecting."
    )
    max_packet_bytes: int = Field(
        default=1024 * 1024,
        ge=64,
        le=268_435_460,
        description="Embedded broker: the largest packet from a logged-in client.",
    )
    max_inflight: int = Field(
        default=1024,
        ge=1,
        le=65_535,
        description="Embedded broker: QoS 1/2 messages sent to one client and not acknowledged.",
    )
    max_queued_messages: int = Field(
        default=10_000,
        ge=0,
        description="Embedded broker: QoS 1/2 messages waiting for one client (oldest dropped).",
    )
    max_queued_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=0,
        description="Embedded broker: bytes waiting for one client (oldest dropped).",
    )
    max_sessions: int = Field(
        default=10_000, ge=1, description="Embedded broker: sessions kept at most."
    )
    session_expiry_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="Embedded broker: how long a persistent session outlives its connection.",
    )
    max_retained: int = Field(
        default=10_000, ge=0, description="Embedded broker: retained messages kept at most."
    )
    max_retained_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        description="Embedded broker: bytes of retained messages kept at most.",
    )

    receive_maximum: int = Field(
        default=1024,
        ge=1,
        le=65_535,
        description="Embedded broker, MQTT 5: QoS 1/2 messages a client may have unacknowledged.",
    )
    topic_alias_maximum: int = Field(
        default=10,
        ge=0,
        le=65_535,
        description="Embedded broker, MQTT 5: topic aliases a client may use, and the most the "
        "broker assigns to one client.",
    )
    server_keep_alive_seconds: int = Field(
        default=0,
        ge=0,
        le=65_535,
        description="Embedded broker, MQTT 5: the longest keep-alive a client gets (0: no limit).",
    )
    refused_subscriptions: list[str] = Field(
        default_factory=list,
        description="Embedded broker: topic filters no client may subscribe to.",
    )

    @field_validator("downlink_device")
    @classmethod
    def _device_expr(cls, value: str) -> str:
        match = _TOPIC_EXPR.match(value)
        if match and int(match.group(1)) < 1:
            raise ValueError("topic(N) counts from 1")
        if not match and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError("expected topic(N) or a JSON field name")
        return value

    def downlink_topic_level(self) -> int | None:
        """The 1-based topic level holding the device id, or None when it is a JSON field."""
        match = _TOPIC_EXPR.match(self.downlink_device)
        return int(match.group(1)) if match else None


class EventSettings(BaseModel):
    """Device events: keep-alive checks, battery alerts, downlink expiry."""

    keepalive_check_seconds: float = Field(
        default=60,
        gt=0,
        description="How often devices are checked against their device type's keepAlive.",
    )
    low_battery_volts: float = Field(
        default=2.7,
        ge=0,
        description="A STATUS callback below this battery voltage raises a low_battery event.",
    )
    downlink_expiry_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=0,
        description="Queued downlinks no BIDIR callback took within this time expire (0: never).",
    )


class TablesSettings(BaseModel):
    """The DynamoDB-compatible tables' background work (time to live, index builds)."""

    ttl_purge_seconds: float = Field(
        default=30,
        gt=0,
        description="How often expired items (time to live) are deleted; also how soon a new "
        "index is built at the latest.",
    )
    purge_batch: int = Field(
        default=500, ge=1, le=10000, description="Items deleted or indexed per transaction."
    )


class HistorySettings(BaseModel):
    """How long messages and events are kept."""

    retention_days: int = Field(
        default=0,
        ge=0,
        le=36500,
        description="Messages and events older than this many days are deleted (0: kept "
        "forever); a device type's retentionDays overrides it for its devices.",
    )
    purge_seconds: float = Field(
        default=3600, gt=0, description="How often history past its retention is deleted."
    )
    purge_batch: int = Field(
        default=500,
        ge=1,
        le=10000,
        description="Devices whose old history one transaction deletes.",
    )


class CallbacksSettings(_AllowedNetworks):
    """The callbacks lorafox makes to other applications."""

    allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Private, loopback or reserved networks callbacks may reach (by default "
        "only public addresses), e.g. 10.0.0.0/8 for a receiver on your own network.",
    )
    timeout_seconds: float = Field(default=10, gt=0, le=300, description="One request's time.")
    downlink_timeout_seconds: float = Field(
        default=3,
        gt=0,
        le=20,
        description="How long a device type's downlink callback may take to answer a device "
        "waiting for a downlink; later, the queue answers.",
    )
    retry_for_seconds: float = Field(
        default=6 * 3600,
        ge=0,
        description="How long a failing delivery is retried (exponential back-off) before it "
        "is given up, listed as not delivered, and its callback marked dead.",
    )
    backoff_seconds: float = Field(default=1, gt=0, description="The first retry's delay.")
    max_backoff_seconds: float = Field(default=600, gt=0, description="The longest delay.")
    per_destination: int = Field(
        default=4, ge=1, le=1000, description="Requests in flight to one host and port."
    )
    max_in_flight: int = Field(default=64, ge=1, le=10000, description="Requests in flight.")


class RulesSettings(BaseModel):
    """Topic rules (docs/rules.md)."""

    http_allowed_urls: list[str] = Field(
        default_factory=list,
        description="URL prefixes the rules' http action may post to (none: the http action "
        "fails, so that a rule cannot make lorafox reach its own network).",
    )
    queue_size: int = Field(
        default=10_000, ge=1, description="Messages waiting for the rules engine at most."
    )
    failing_after: int = Field(
        default=5,
        ge=1,
        description="Failures in a row of one of a rule's actions that make it rule_failing "
        "(rule_restored at its next success).",
    )
    http_lease_seconds: float = Field(
        default=30,
        ge=1,
        le=3600,
        description="How long an instance's claim on an http action's request lasts without "
        "being renewed (every third of it): another instance sends the requests of one that "
        "died this long after.",
    )
    shared_subscription: bool = Field(
        default=False,
        description="On an external broker with shared subscriptions (Mosquitto 2, EMQX, "
        "HiveMQ, AWS IoT Core), every instance subscribes to $share/<feed_group>/# and the "
        "broker hands each message to one of them. Off (RabbitMQ, NATS): one instance at a "
        "time, holding a PostgreSQL advisory lock, takes the messages under the client id "
        "<feed_group>. Set it alike on every instance.",
    )
    feed_group: str = Field(
        default="lorafox-rules",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The shared subscription's group, or the client id of the instance "
        "feeding the rules when there is none (on an external broker).",
    )


class LoraSettings(BaseModel):
    """Downlink hand-overs to the LoRa network servers pushed to (ChirpStack, The Things Stack,
    AWS IoT Core for LoRaWAN)."""

    downlink_retry_seconds: float = Field(
        default=5, gt=0, description="First wait before a push that failed is tried again."
    )
    downlink_retry_max_seconds: float = Field(
        default=300, gt=0, description="Longest wait between tries (the wait doubles)."
    )
    downlink_give_up_seconds: float = Field(
        default=3600,
        gt=0,
        description="A downlink not handed over this long after it was queued fails.",
    )
    integration_down_seconds: float = Field(
        default=60,
        gt=0,
        description="An integration whose broker or downlink push has failed without a success "
        "this long is integration_down (integration_restored at its next success).",
    )


class MailSettings(BaseModel):
    """The mail server lorafox sends alerts, invitations and password resets through."""

    host: str | None = Field(default=None, description="SMTP server; none = lorafox sends no mail.")
    port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls (upgrade after connecting, port 587), tls (TLS from the start, port "
        "465) or none (a local relay only).",
    )
    ca_file: Path | None = Field(
        default=None, description="CA bundle to verify the server (default: the system's)."
    )
    username: str | None = Field(default=None, description="SMTP login, if the server needs one.")
    password: SecretStr | None = Field(default=None, description="Its password (set).")
    from_address: str = Field(
        default="lorafox@localhost", max_length=320, description="The From: of every mail."
    )
    max_per_minute: int = Field(
        default=60, ge=1, description="Mails handed to the server a minute at most (the rest wait)."
    )
    timeout_seconds: float = Field(default=30, gt=0, le=300, description="One SMTP exchange.")
    retry_for_seconds: float = Field(
        default=24 * 3600, ge=0, description="How long a mail the server refuses is retried."
    )
    backoff_seconds: float = Field(default=5, gt=0, description="The first retry's delay.")
    max_backoff_seconds: float = Field(default=900, gt=0, description="The longest delay.")
    public_url: str | None = Field(
        default=None,
        description="lorafox's address as users reach it (https://lorafox.example.com), for the "
        "links of invitations and password resets; default http://HOST:HTTP_PORT.",
    )
    alert_email_digest_seconds: float = Field(
        default=60,
        ge=0,
        description="A device type's alertEmail: its devices' events gathered this long into one "
        "mail.",
    )
    alert_email_max_per_hour: int = Field(
        default=10, ge=1, description="A device type's alertEmail: mails an hour at most."
    )
    invitation_expiry_seconds: int = Field(
        default=7 * 24 * 3600, ge=60, description="How long an invitation's link works."
    )
    reset_expiry_seconds: int = Field(
        default=3600, ge=60, description="How long a password reset's link works."
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return None if value is None else value.rstrip("/")


class ConsoleSettings(BaseModel):
    """The web console at ``/console``: its sessions and its map."""

    session_hours: float = Field(
        default=12, gt=0, le=24 * 90, description="A session ends this long after the login."
    )
    idle_minutes: float = Field(
        default=60, gt=0, description="A session ends after this long without a request."
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="Mark the session cookie Secure (sent over HTTPS only). Default: when the "
        "request came over HTTPS; set true behind a proxy that terminates TLS.",
    )
    tile_url: str | None = Field(
        default=None,
        description="Map tiles ({z}/{x}/{y} template, e.g. https://tile.openstreetmap.org/"
        "{z}/{x}/{y}.png); none: positions on a blank grid, nothing fetched from outside.",
    )
    tile_attribution: str = Field(
        default="", max_length=300, description="The text the tile provider asks to show."
    )
    refresh_seconds: float = Field(
        default=3, ge=0.5, le=300, description="How often an open device page asks for news."
    )

    @field_validator("tile_url")
    @classmethod
    def _tile_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+/\S*\{z\}", value):
            raise ValueError("must be an http:// or https:// URL template with {z}, {x} and {y}")
        return value


class Settings(BaseSettings):
    """Everything ``lorafox serve`` can be told."""

    model_config = SettingsConfigDict(
        env_prefix="LORAFOX_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )
    config_file: ClassVar[Path | None] = None

    data_dir: Path = Field(
        default_factory=default_data_dir, description="Where lorafox keeps data."
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP and MQTT listeners bind.")
    http_port: int = Field(default=8080, ge=1, le=65535, description="HTTP port.")
    api_rate_limit: float = Field(
        default=1000,
        ge=0,
        description="Requests a second each user or API user may make on /api/v2 (bursts of "
        "twice as many); beyond it 429 with Retry-After. 0 = no limit.",
    )
    api_max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body on /api/v2 (413 beyond, checked before authentication).",
    )
    http_max_header_bytes: int = Field(
        default=16384,
        ge=1024,
        le=1024 * 1024,
        description="Largest HTTP request head (request line and headers): 431 beyond, counted "
        "as the bytes arrive, before routing or authentication.",
    )
    http_header_timeout_seconds: float = Field(
        default=10,
        ge=0.5,
        le=3600,
        description="Time a connection has to complete a request head after it opened or after "
        "its previous response (a deadline: a trickle of bytes does not extend it); then 408, or "
        "closed when nothing arrived.",
    )
    http_max_connections: int = Field(
        default=1024,
        ge=1,
        description="Open HTTP connections at most; beyond, new ones get 503 with Retry-After "
        "and are closed (logged at most once a minute).",
    )
    login_failures_per_address: int = Field(
        default=20,
        ge=1,
        description="Wrong passwords from one address (any login) before it is refused for "
        "login_lockout_seconds (429 with Retry-After), without any password hashing.",
    )
    login_failures_per_login: int = Field(
        default=50,
        ge=1,
        description="Wrong passwords for one login (any address) before it is refused for "
        "login_lockout_seconds.",
    )
    login_lockout_seconds: float = Field(
        default=60,
        gt=0,
        description="The window the failures are counted in, and how long a lock-out lasts.",
    )
    mqtt_port: int = Field(
        default=1883, ge=0, le=65535, description="Embedded MQTT broker port; 0 = no broker."
    )
    mqtt_url: str | None = Field(
        default=None, description="mqtt[s]://user:pass@host:port of an external broker instead."
    )
    semtech_port: int = Field(
        default=6500,
        ge=0,
        le=65535,
        description="Semtech customer-server socket (LoRa) port; 0 = off. Only addresses a "
        "semtech LoRa integration lists may connect.",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file in the data dir."
    )
    leader_retry_seconds: float = Field(
        default=5,
        gt=0,
        le=300,
        description="On PostgreSQL, how often an instance that is not the leader tries to "
        "become it (the periodic jobs run on the leader only).",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    admin_password: SecretStr | None = Field(default=None, description="Admin password (set).")
    sigfox_username: str | None = Field(default=None, description="Sigfox callback user (set).")
    sigfox_password: SecretStr | None = Field(default=None, description="Its password (set).")
    sigfox: SigfoxSettings = Field(default_factory=SigfoxSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    tables: TablesSettings = Field(default_factory=TablesSettings)
    history: HistorySettings = Field(default_factory=HistorySettings)
    callbacks: CallbacksSettings = Field(default_factory=CallbacksSettings)
    rules: RulesSettings = Field(default_factory=RulesSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    lora: LoraSettings = Field(default_factory=LoraSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^mqtts?://", value):
            raise ValueError("must start with mqtt:// or mqtts://")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, with the async driver lorafox uses for it."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'lorafox.db'}"
        for plain, driver in (
            ("sqlite:", "sqlite+aiosqlite:"),
            ("postgresql:", "postgresql+asyncpg:"),
            ("postgres:", "postgresql+asyncpg:"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        return url

    @property
    def embedded_broker(self) -> bool:
        """True when lorafox runs its own MQTT broker."""
        return self.mqtt_url is None and self.mqtt_port != 0

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Build the settings from flags (``overrides``), environment and an optional TOML file."""
        cls.config_file = config_file
        try:
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        finally:
            cls.config_file = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.config_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.config_file))
        return tuple(sources)
