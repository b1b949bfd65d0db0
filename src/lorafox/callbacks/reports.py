"""SERVICE and ERROR callbacks: what the Sigfox Back-End reported to lorafox (STATUS,
ACKNOWLEDGE, DATA_ADVANCED, ERROR), forwarded to the device type's callbacks of that type.

Once a report is stored, ``ReportForwarder.forward`` stores a delivery for each matching
callback, with the report's variables by their Sigfox names; a report the Back-End sends again
(a retried callback) owes nothing more.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from lorafox.callbacks.directory import CallbackDirectory
from lorafox.domain import (
    Acknowledgement,
    AdvancedData,
    CallbackChannel,
    CallbackSubtype,
    CallbackType,
    Delivery,
    DeviceStatus,
    ErrorReport,
)
from lorafox.ports.callbacks import CallbackStore

__all__ = ["Report", "ReportForwarder", "report_variables"]

Report = DeviceStatus | Acknowledgement | AdvancedData | ErrorReport

_Kind = tuple[CallbackType, CallbackSubtype | None]


def report_variables(report: Report) -> tuple[_Kind, str, dict[str, Any]]:
    """The callback type and subtype a report is for, its key, and its variables."""
    seconds = report.time // 1000
    base: dict[str, Any] = {"device": report.device, "time": seconds}
    if isinstance(report, DeviceStatus):
        values = {**base, "temp": report.temperature, "batt": report.battery}
        return (CallbackType.SERVICE, CallbackSubtype.STATUS), f"status:{seconds}", values
    if isinstance(report, Acknowledgement):
        values = {
            **base,
            "duplicate": False,
            "infoCode": report.info_code,
            "infoMessage": report.info_message,
            "downlinkAck": report.downlink_ack,
            "downlinkOverusage": report.overusage,
        }
        return (CallbackType.SERVICE, CallbackSubtype.ACKNOWLEDGE), f"ack:{seconds}", values
    if isinstance(report, AdvancedData):
        values = {
            **report.details,
            **base,
            "data": report.data,
            "seqNumber": report.seq_number,
        }
        key = f"advanced:{report.seq_number}:{seconds}"
        return (CallbackType.SERVICE, CallbackSubtype.DATA_ADVANCED), key, values
    values = {**base, "info": report.info, "severity": report.severity.value}
    return (
        (CallbackType.ERROR, None),
        f"error:{seconds}:{zlib.crc32(report.info.encode()):x}",
        values,
    )


class ReportForwarder:
    """Stores the deliveries a report owes; ``on_enqueued`` wakes the sender."""

    def __init__(
        self,
        store: CallbackStore,
        directory: CallbackDirectory,
        type_of: Callable[[str], str | None],
        clock: Callable[[], int],
        on_enqueued: Callable[[], None],
    ) -> None:
        self._store = store
        self._directory = directory
        self._type_of = type_of
        self._clock = clock
        self._on_enqueued = on_enqueued

    async def forward(self, report: Report) -> None:
        """Owe ``report`` to its device type's callbacks of its type (``StoreError``)."""
        type_id = self._type_of(report.device)
        callbacks = self._directory.of_type(type_id)
        if not callbacks:
            return
        (kind, subtype), key, values = report_variables(report)
        values["deviceTypeId"] = type_id
        now = self._clock()
        deliveries = [
            Delivery.owed(
                c,
                report.device,
                report.time,
                now,
                report_key=f"{key}:{report.device}"[:64],
                variables=values,
            )
            for c in callbacks
            if c.channel in (CallbackChannel.URL, CallbackChannel.EMAIL)
            and c.callback_type is kind
            and (kind is CallbackType.ERROR or c.callback_subtype is subtype)
        ]
        if deliveries:
            await self._store.enqueue(deliveries, None)
            self._on_enqueued()
