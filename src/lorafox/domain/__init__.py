"""Frozen value objects shared by every layer."""

from lorafox.domain.devices import Device, DeviceType, DownlinkMode, PayloadType
from lorafox.domain.events import (
    Acknowledgement,
    AdvancedData,
    DeviceStatus,
    ErrorReport,
    Event,
    EventType,
    InfoCode,
    Severity,
)
from lorafox.domain.identity import (
    ApiUser,
    Grant,
    Group,
    Principal,
    PrincipalKind,
    Profile,
    User,
    UserRole,
    new_id,
)
from lorafox.domain.messages import Downlink, DownlinkState, StoredUplink, Uplink

__all__ = [
    "Acknowledgement",
    "AdvancedData",
    "ApiUser",
    "Device",
    "DeviceStatus",
    "DeviceType",
    "Downlink",
    "DownlinkMode",
    "DownlinkState",
    "ErrorReport",
    "Event",
    "EventType",
    "Grant",
    "Group",
    "InfoCode",
    "PayloadType",
    "Principal",
    "PrincipalKind",
    "Profile",
    "Severity",
    "StoredUplink",
    "Uplink",
    "User",
    "UserRole",
    "new_id",
]
