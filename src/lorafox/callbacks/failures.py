"""Callbacks not delivered, as a principal may see them: of a device, a device type or a
group's device types; and a manual retry of those given up."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from lorafox.auth import rbac
from lorafox.callbacks.requests import request_for, values_request
from lorafox.devices import DeviceManagement
from lorafox.domain import CallbackChannel, CallbackRequest, Delivery, Principal, StoredUplink
from lorafox.errors import NotFound
from lorafox.ports.callbacks import CallbackStore, DeliveryQuery, WithMessage

__all__ = ["NotDelivered", "Undelivered"]


@dataclass(slots=True, frozen=True)
class Undelivered:
    """A delivery not made yet, its message, and the request its callback makes for it now
    (None when the message is deleted)."""

    delivery: Delivery
    message: StoredUplink | None
    request: CallbackRequest | None


MAX_TYPES = 1000
"""Device types of a group looked at by the group's listing."""


class NotDelivered:
    """Listing and retrying deliveries; ``on_retry`` wakes the sender."""

    def __init__(
        self,
        store: CallbackStore,
        devices: DeviceManagement,
        clock: Callable[[], int],
        on_retry: Callable[[], None],
    ) -> None:
        self._store = store
        self._devices = devices
        self._clock = clock
        self._on_retry = on_retry

    async def of_device(
        self, principal: Principal, device: str, query: DeliveryQuery
    ) -> list[Undelivered]:
        found = await self._devices.devices.scope(principal, device)
        return await self._described(dataclasses.replace(query, device=found))

    async def of_device_type(
        self, principal: Principal, device_type_id: str, query: DeliveryQuery
    ) -> list[Undelivered]:
        found = await self._devices.types.get(principal, device_type_id)
        return await self._described(dataclasses.replace(query, device_type_ids=(found.id,)))

    async def of_group(
        self, principal: Principal, group_id: str, query: DeliveryQuery
    ) -> list[Undelivered]:
        types = await self._devices.types.list(principal, group_ids=[group_id], limit=MAX_TYPES)
        if not types:
            return []
        ids = tuple(t.id for t in types)
        return await self._described(dataclasses.replace(query, device_type_ids=ids))

    async def _described(self, query: DeliveryQuery) -> list[Undelivered]:
        found: list[WithMessage] = await self._store.not_delivered(query)
        callbacks = {}
        for callback_id in {d.callback_id for d, _ in found}:
            callbacks[callback_id] = await self._store.get_callback(callback_id)
        described = []
        for delivery, message in found:
            callback = callbacks.get(delivery.callback_id)
            request = None
            if callback is not None and callback.channel is CallbackChannel.EMAIL:
                pass  # a mail, not a request
            elif callback is not None and delivery.variables is not None:
                request = values_request(callback, delivery.variables)
            elif callback is not None and message is not None:
                request = request_for(callback, message)
            described.append(Undelivered(delivery, message, request))
        return described

    async def retry(self, principal: Principal, device_type_id: str) -> int:
        """Make the given-up deliveries of a device type pending again (DEVICE_MANAGER)."""
        found = await self._devices.types.get(principal, device_type_id, rbac.OPERATE)
        count = await self._store.retry(DeliveryQuery(device_type_ids=(found.id,)), self._clock())
        if count:
            self._on_retry()
        return count

    async def retry_one(self, principal: Principal, device_type_id: str, delivery_id: int) -> None:
        """Attempt one delivery of a device type again now, given up or waiting for its next
        attempt (DEVICE_MANAGER); ``NotFound`` when it is delivered or not the type's."""
        found = await self._devices.types.get(principal, device_type_id, rbac.OPERATE)
        query = DeliveryQuery(device_type_ids=(found.id,), delivery_ids=(delivery_id,))
        if not await self._store.retry(query, self._clock(), pending=True):
            raise NotFound("delivery not found (delivered, or not of this device type)")
        self._on_retry()
