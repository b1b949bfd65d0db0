"""What the SERVICE and ERROR callbacks report, and the events lorafox keeps about devices."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

__all__ = [
    "Acknowledgement",
    "AdvancedData",
    "DeviceStatus",
    "ErrorReport",
    "Event",
    "EventType",
    "InfoCode",
    "Severity",
]


class EventType(StrEnum):
    """Kinds of events, as ``type`` in the API and on ``sigfox/events/{device}``."""

    COMMUNICATION_LOST = "communication_lost"
    COMMUNICATION_RESTORED = "communication_restored"
    DOWNLINK_ACKED = "downlink_acked"
    DOWNLINK_FAILED = "downlink_failed"
    DOWNLINK_EXPIRED = "downlink_expired"
    DOWNLINK_REJECTED = "downlink_rejected"
    """An MQTT downlink request refused (its topic, reason and requestId in ``data``)."""
    STATUS = "status"
    LOW_BATTERY = "low_battery"
    LOCATION = "location"
    ERROR = "error"
    MESSAGES_LOST = "messages_lost"
    REGISTRATION_REFUSED = "registration_refused"
    CALLBACK_FAILING = "callback_failing"
    CALLBACK_RESTORED = "callback_restored"
    RULE_FAILING = "rule_failing"
    RULE_RESTORED = "rule_restored"
    INTEGRATION_DOWN = "integration_down"
    INTEGRATION_RESTORED = "integration_restored"
    LORA = "lora"
    """What a LoRa network server reported besides uplinks (join, gateway, device, log)."""


class Severity(StrEnum):
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


class InfoCode(IntEnum):
    """The ACKNOWLEDGE callback's ``infoCode`` (Sigfox's codes and names)."""

    ACKED = 0
    NO_ANSWER = 1
    INVALID_PAYLOAD = 2
    OVERRUN_ERROR = 3
    NETWORK_ERROR = 4
    PENDING = 5
    NO_DOWNLINK_CONTRACT = 6
    TOO_MANY_REQUESTS = 7
    INVALID_CONFIGURATION = 8

    @classmethod
    def name_of(cls, code: int) -> str:
        """The code's name, ``CODE_<n>`` for a code Sigfox does not document."""
        try:
            return cls(code).name
        except ValueError:
            return f"CODE_{code}"


@dataclass(slots=True, frozen=True)
class Event:
    """Something that happened to a device (``device`` None for a device-type-wide event).

    ``time`` is when it happened (epoch ms), ``data`` its details by name. An event of neither
    a device nor a device type (a topic rule's, a LoRa integration's) names its group in
    ``data``: ``groupId``, or ``groupPath`` for a rule."""

    type: EventType
    severity: Severity
    time: int
    message: str
    device: str | None = None
    device_type_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    created_at: int | None = None


@dataclass(slots=True, frozen=True)
class DeviceStatus:
    """A STATUS callback: the device's temperature (°C) and battery voltage (V)."""

    device: str
    time: int
    seq_number: int | None
    temperature: float | None
    battery: float | None


@dataclass(slots=True, frozen=True)
class Acknowledgement:
    """An ACKNOWLEDGE callback: what became of the downlink answering the message at ``time``."""

    device: str
    time: int
    info_code: int
    info_message: str | None
    downlink_ack: bool | None
    overusage: bool | None

    @property
    def info_name(self) -> str:
        return InfoCode.name_of(self.info_code)

    @property
    def acked(self) -> bool:
        return self.info_code == InfoCode.ACKED


@dataclass(slots=True, frozen=True)
class AdvancedData:
    """A DATA_ADVANCED callback: link quality, operator, base stations and computed location of
    the message (device, time, seq_number). ``details`` keeps the callback's own names."""

    device: str
    time: int
    seq_number: int
    data: str | None
    details: dict[str, Any]
    computed_lat: float | None = None
    computed_lng: float | None = None
    computed_radius: int | None = None
    computed_source: int | None = None


@dataclass(slots=True, frozen=True)
class ErrorReport:
    """An ERROR callback: ``severity`` (WARN, ERROR) and the Back-End's ``info`` text."""

    device: str
    time: int
    severity: Severity
    info: str
    extra: dict[str, Any] = field(default_factory=dict)
