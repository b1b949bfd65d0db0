"""The enabled callbacks of every device type, in memory: read once at start and again for a
device type whenever its callbacks change."""

from __future__ import annotations

from lorafox.domain import Callback
from lorafox.ports.callbacks import CallbackStore

__all__ = ["CallbackDirectory"]


class CallbackDirectory:
    def __init__(self, store: CallbackStore) -> None:
        self._store = store
        self._by_type: dict[str, list[Callback]] = {}
        self._by_id: dict[str, Callback] = {}

    def __bool__(self) -> bool:
        """Whether any device type has an enabled callback."""
        return bool(self._by_type)

    async def load(self) -> None:
        self._by_type.clear()
        for callback in await self._store.all_callbacks():
            if callback.enabled:
                self._by_type.setdefault(callback.device_type_id, []).append(callback)
        self._index()

    async def refresh(self, device_type_id: str) -> None:
        """Read ``device_type_id``'s callbacks again (after a change)."""
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
