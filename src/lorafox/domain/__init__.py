"""Frozen value objects shared by every layer."""

from lorafox.domain.devices import Device, DeviceType, DownlinkMode, PayloadType
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
    "ApiUser",
    "Device",
    "DeviceType",
    "Downlink",
    "DownlinkMode",
    "DownlinkState",
    "Grant",
    "Group",
    "PayloadType",
    "Principal",
    "PrincipalKind",
    "Profile",
    "StoredUplink",
    "Uplink",
    "User",
    "UserRole",
    "new_id",
]
