"""The enabled callbacks of every device type, in memory: read once at start and again for a
device type whenever its callbacks change, here or (``follow``) on another instance sharing
the database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from lorafox.domain import Callback
from lorafox.ports.callbacks import CallbackStore
from lorafox.ports.cluster import Changes

__all__ = ["CALLBACKS", "CallbackDirectory"]

CALLBACKS = "callbacks"
"""The topic of changed callbacks (keys: device type ids)."""


class CallbackDirectory:
    def __init__(self, store: CallbackStore) -> None:
        self._store = store
        self._by_type: dict[str, list[Callback]] = {}
        self._by_id: dict[str, Callback] = {}
        self._changes: Changes | None = None

    def __bool__(self) -> bool:
        """Whether any device type has an enabled callback."""
        return bool(self._by_type)

    async def load(self) -> None:
        by_type: dict[str, list[Callback]] = {}
        for callback in await self._store.all_callbacks():
            if callback.enabled:
                by_type.setdefault(callback.device_type_id, []).append(callback)
        self._by_type = by_type
        self._index()

    def follow(self, changes: Changes, then: Callable[[], Awaitable[None]]) -> None:
        """Tell ``changes`` of the refreshes from now on; read again the device types another
        instance changed, then call ``then``."""

        async def reread(keys: Sequence[str] | None) -> None:
            if keys is None:
                await self.load()
            else:
                for device_type_id in keys:
                    await self._read(device_type_id)
            await then()

        self._changes = changes
        changes.on(CALLBACKS, reread)

    async def refresh(self, device_type_id: str) -> None:
        """Read ``device_type_id``'s callbacks again (after a committed change)."""
        await self._read(device_type_id)
        if self._changes is not None:
            self._changes.changed(CALLBACKS, [device_type_id])

    async def _read(self, device_type_id: str) -> None:
        enabled = [c for c in await self._store.list_callbacks(device_type_id) if c.enabled]
        if enabled:
            self._by_type[device_type_id] = enabled
        else:
            self._by_type.pop(device_type_id, None)
        self._index()

    def _index(self) -> None:
        self._by_id = {c.id: c for found in self._by_type.values() for c in found}

    def of_type(self, device_type_id: str | None) -> list[Callback]:
        """The enabled callbacks of a device type."""
        return self._by_type.get(device_type_id or "", [])

    def all(self) -> list[Callback]:
        """Every enabled callback."""
        return list(self._by_id.values())

    def by_id(self, callback_id: str) -> Callback | None:
        """An enabled callback."""
        return self._by_id.get(callback_id)

    def downlink_hook(self, device_type_id: str | None) -> Callback | None:
        """The device type's enabled downlink callback, if it has one."""
        return next((c for c in self.of_type(device_type_id) if c.downlink_hook), None)
