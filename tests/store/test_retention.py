"""History past its retention deleted, on SQLite (with and without the fast path) and
PostgreSQL: the rows of devices no longer registered by the device type each names, the rest
by the default (registered devices: tests/integration/test_retention.py)."""

from __future__ import annotations

import dataclasses

from lorafox.devices.retention import DAY_MS, HistoryRetention
from lorafox.domain import DeviceType, Event, EventType, Severity, Uplink
from lorafox.store.sql.store import SqlStore

NOW = 1_800_000_000_000


def _type(type_id: str, days: int | None) -> DeviceType:
    blank = DeviceType.blank(type_id, type_id, "g", created_at=0)
    return dataclasses.replace(blank, retention_days=days)


TYPES = [_type("short", 2), _type("forever", 0), _type("unset", None)]


async def _types() -> list[DeviceType]:
    return TYPES


def _retention(store: SqlStore, default_days: int, batch: int = 2) -> HistoryRetention:
    return HistoryRetention(
        store.retention, _types, default_days=default_days, batch=batch, clock=lambda: NOW / 1000
    )


def _up(device: str, days_ago: float, type_id: str | None, seq: int) -> Uplink:
    return Uplink(
        device=device,
        time=int(NOW - days_ago * DAY_MS),
        seq_number=seq,
        data="01",
        device_type_id=type_id,
    )


async def _left(store: SqlStore, device: str) -> list[int]:
    return sorted(m.uplink.seq_number for m in await store.messages.list_messages(device, limit=99))


async def test_an_unregistered_devices_rows_follow_the_type_they_name(store: SqlStore) -> None:
    batch = [
        _up("A1", 5, "short", 1),  # past its type's 2 days
        _up("A1", 1, "short", 2),
        _up("A1", 30, "forever", 3),  # named another type: kept forever
        _up("B2", 30, "unset", 4),  # a type without its own setting: the default (10 days)
        _up("B2", 3, "unset", 5),
        _up("C3", 30, None, 6),  # no type (or a deleted one): the default
        _up("D4", 11, "deleted-type", 7),
        _up("E5", 1, "short", 8),
    ]
    await store.messages.ingest([(u, False) for u in batch])
    assert await _retention(store, default_days=10).step() == 4
    assert await _left(store, "A1") == [2, 3]
    assert await _left(store, "B2") == [5]
    assert await _left(store, "C3") == []
    assert await _left(store, "D4") == []
    assert await _left(store, "E5") == [8]
    assert await _retention(store, default_days=10).step() == 0  # nothing more to do


async def test_a_default_of_zero_keeps_what_has_no_setting(store: SqlStore) -> None:
    batch = [_up("A1", 400, None, 1), _up("A1", 400, "unset", 2), _up("A1", 3, "short", 3)]
    await store.messages.ingest([(u, False) for u in batch])
    assert await _retention(store, default_days=0, batch=500).step() == 1
    assert await _left(store, "A1") == [1, 2]


async def test_events_go_with_their_device_type_and_device(store: SqlStore) -> None:
    def event(device: str | None, type_id: str, days_ago: int) -> Event:
        time = NOW - days_ago * DAY_MS
        return Event(
            EventType.ERROR, Severity.ERROR, time, "x", device=device, device_type_id=type_id
        )

    await store.events.add_events(
        [
            event("A1", "short", 3),
            event("A1", "short", 1),
            event(None, "short", 3),  # the type's own event (a callback failing)
            event(None, "forever", 300),
            event("B2", "unset", 20),
        ],
        now=NOW,
    )
    assert await _retention(store, default_days=10).step() == 3
    left = await store.events.list_events(limit=99)
    assert sorted((e.device or "", e.device_type_id) for e in left) == [
        ("", "forever"),
        ("A1", "short"),
    ]
    assert await _retention(store, default_days=0).step() == 0
