"""Device types and devices, as the Sigfox Back-End has them.

A device belongs to one device type and sits in that type's group; moving a device to another
type moves it to that type's group.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = ["Device", "DeviceType", "DownlinkMode", "PayloadType"]


class DownlinkMode(IntEnum):
    """How a BIDIR callback is answered (Sigfox's codes)."""

    DIRECT = 0
    CALLBACK = 1
    NONE = 2


class PayloadType(IntEnum):
    """How uplink payloads are decoded (Sigfox's codes): ``lorafox.decoding`` compiles each
    device type's format once and decodes every message with it (docs/decoding.md)."""

    REGULAR = 2
    CUSTOM_GRAMMAR = 3
    STRING = 5


@dataclass(slots=True, frozen=True)
class DeviceType:
    """A set of devices sharing a group, downlink and payload settings, and a daily limit."""

    id: str
    name: str
    description: str
    group_id: str
    keep_alive: int  # seconds, 0 = off
    alert_email: str | None
    downlink_mode: DownlinkMode
    downlink_data: str | None  # the DIRECT template (``downlinkDataString``)
    payload_type: PayloadType
    payload_config: str | None
    automatic_renewal: bool
    max_uplinks_per_day: int  # 0 = no limit (the contract-like limit)
    created_at: int
    created_by: str | None = None
    edited_at: int | None = None
    edited_by: str | None = None
    retention_days: int | None = (
        None  # messages and events kept; None: the instance's default, 0: forever
    )

    @classmethod
    def blank(
        cls, id: str, name: str, group_id: str, created_at: int, created_by: str | None = None
    ) -> DeviceType:
        """A new device type with the Back-End's defaults: no keep-alive, no alert e-mail,
        downlinks from the CALLBACK mode, regular payloads, automatic renewal, no daily limit."""
        return cls(
            id=id,
            name=name,
            description="",
            group_id=group_id,
            keep_alive=0,
            alert_email=None,
            downlink_mode=DownlinkMode.CALLBACK,
            downlink_data=None,
            payload_type=PayloadType.REGULAR,
            payload_config=None,
            automatic_renewal=True,
            max_uplinks_per_day=0,
            created_at=created_at,
            created_by=created_by,
        )

    def device(
        self,
        id: str,
        name: str,
        created_at: int,
        *,
        pac: str = "",
        lat: float | None = None,
        lng: float | None = None,
        activable: bool = True,
        automatic_renewal: bool | None = None,
        created_by: str | None = None,
        provisioned: bool = False,
    ) -> Device:
        """A new device of this type, in its group (renewed as the type is, unless told)."""
        return Device(
            id=id,
            name=name,
            device_type_id=self.id,
            group_id=self.group_id,
            pac=pac,
            lat=lat,
            lng=lng,
            activable=activable,
            automatic_renewal=(
                self.automatic_renewal if automatic_renewal is None else automatic_renewal
            ),
            created_at=created_at,
            created_by=created_by,
            provisioned=provisioned,
        )


@dataclass(slots=True, frozen=True)
class Device:
    """A registered device. ``last_com`` and ``seq_number`` come from its latest message (None
    before the first one); ``group_id`` is its device type's."""

    id: str
    name: str
    device_type_id: str
    group_id: str
    pac: str
    lat: float | None
    lng: float | None
    activable: bool
    automatic_renewal: bool
    created_at: int
    created_by: str | None = None
    provisioned: bool = False  # created by a callback (``sigfox.unknown_devices = "provision"``)
    last_com: int | None = None
    seq_number: int | None = None
