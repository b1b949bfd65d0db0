"""The embedded broker's bounds: every count, size and time it keeps for its clients."""

from __future__ import annotations

from dataclasses import dataclass

from lorafox.bus.mqtt_codec import MAX_REMAINING_LENGTH
from lorafox.errors import ConfigError

__all__ = ["BrokerLimits"]


@dataclass(slots=True, frozen=True)
class BrokerLimits:
    """What one broker holds at most. The defaults suit a fleet behind one lorafox."""

    max_connections: int = 10_000
    """Open client connections; more are closed as they arrive."""
    max_connections_per_address: int = 1_000
    """Open connections from one IP address (behind a proxy every client shares its address:
    raise this to ``max_connections`` there)."""
    max_unauthenticated: int = 256
    """Connections that have not completed CONNECT and its login yet."""
    max_connect_bytes: int = 65_536
    """The largest packet accepted before a client is logged in (its CONNECT, will included)."""
    connect_timeout: float = 10.0
    """Seconds from the TCP connection to an accepted CONNECT, however slowly bytes arrive."""
    max_packet_size: int = MAX_REMAINING_LENGTH + 5
    """The largest packet accepted from a logged-in client (fixed header included)."""
    max_inflight: int = 1024
    """QoS 1/2 messages sent to one client and not acknowledged; more wait in its queue."""
    max_queued_messages: int = 10_000
    """QoS 1/2 messages waiting for one client (the oldest are dropped beyond)."""
    max_queued_bytes: int = 16 * 1024 * 1024
    """Payload and topic bytes waiting for one client (the oldest are dropped beyond)."""
    max_sessions: int = 10_000
    """Sessions kept (connected or persistent); a new one beyond is refused (CONNACK 0x03)."""
    session_expiry: float = 86_400.0
    """Seconds a persistent session outlives its last connection."""
    max_retained: int = 10_000
    """Retained messages kept; a new retained topic beyond is delivered but not retained."""
    max_retained_bytes: int = 64 * 1024 * 1024
    """Bytes of retained messages kept (same rule)."""
    receive_maximum: int = 1024
    """MQTT 5: QoS 1/2 messages an MQTT 5 client may have unacknowledged by the broker (more:
    DISCONNECT 0x93)."""
    topic_alias_maximum: int = 10
    """MQTT 5: topic aliases a client may use, and the most the broker assigns to one client."""
    server_keep_alive: int = 0
    """MQTT 5: the longest keep-alive of MQTT 5 clients (seconds): a client asking for more, or
    for none, is held to this one (CONNACK "server keep alive"); 0: the client's own."""

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) < 0:
                raise ConfigError(f"the MQTT broker limit {name} cannot be negative")
        if self.max_packet_size < 2 or self.max_connect_bytes < 2:
            raise ConfigError("MQTT packet size limits must be at least 2 bytes")
        if self.max_inflight < 1:
            raise ConfigError("max_inflight must be at least 1")
        if not 1 <= self.receive_maximum <= 0xFFFF:
            raise ConfigError("receive_maximum is between 1 and 65535")
        if self.topic_alias_maximum > 0xFFFF or self.server_keep_alive > 0xFFFF:
            raise ConfigError("topic_alias_maximum and server_keep_alive are at most 65535")
