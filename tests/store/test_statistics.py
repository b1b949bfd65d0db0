"""Statistics and message positions in the SQL store, on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from lorafox.domain import AdvancedData, DeviceStatus, Uplink
from lorafox.ports.statistics import DownlinkOutcomes, LinkQuality, Spread, merge_buckets
from lorafox.store.sql import rollup
from lorafox.store.sql.rollup import backfill
from lorafox.store.sql.store import SqlStore
from lorafox.store.sql.tables import downlinks, type_hourly
from tests.store.test_device_store import device, device_type

HOUR = 3_600_000
DAY = 24 * HOUR
DAY0 = 1_700_006_400_000  # a UTC midnight
MINUTE = 60_000


async def ingest(store: SqlStore, *uplinks: Uplink) -> None:
    await store.messages.ingest([(u, False) for u in uplinks])


def up(device_id: str, time: int, seq: int, data: str = "0102", **kw: Any) -> Uplink:
    return Uplink(device=device_id, time=time, seq_number=seq, data=data, **kw)


async def advanced(store: SqlStore, device_id: str, time: int, seq: int, **details: Any) -> None:
    computed = details.pop("computed", None) or {}
    await store.events.attach_advanced(
        AdvancedData(
            device=device_id, time=time, seq_number=seq, data=None, details=details, **computed
        ),
        [],
        0,
    )


async def status(store: SqlStore, device_id: str, time: int, temp: float, batt: float) -> None:
    await store.events.record_status(
        DeviceStatus(device_id, time, None, temp, batt), lambda _: [], 0
    )


async def downlink(store: SqlStore, device_id: str, state: str, sent: int, ended: int) -> None:
    async with store.database.engine.begin() as conn:
        await conn.execute(
            sa.insert(downlinks).values(
                device=device_id,
                data="0102030405060708",
                state=state,
                source="api",
                created_at=sent - MINUTE,
                sent_at=None if state == "expired" else sent,
                ended_at=ended,
            )
        )
        # what the store adds up where it hands a downlink out and records its outcome
        if state != "expired":
            await rollup.add_downlink(conn, device_id, sent, "dl_sent")
        if state in ("acked", "failed", "expired"):
            await rollup.add_downlink(conn, device_id, ended, f"dl_{state}")  # type: ignore[arg-type]


async def fleet(store: SqlStore) -> str:
    """Type T with devices A1 and B2, another type with C3; their messages, reports and
    downlinks on DAY0 and DAY0 + 1 day. Returns T's id."""
    root = await store.identity.root_group()
    t, other = device_type(root, "t"), device_type(root, "other")
    for each in (t, other):
        await store.devices.create_device_type(each)
    await store.devices.create_devices([device("A1", t), device("B2", t), device("C3", other)])
    await ingest(
        store,
        up("A1", DAY0 + 10 * MINUTE, 1, snr=10.0, rssi=-100.0),
        up("A1", DAY0 + 20 * MINUTE, 2, "01020304", snr=20.0, rssi=-120.0,
           extra={"freq": "868130000"}),
        up("A1", DAY0 + HOUR + 5 * MINUTE, 3, "", snr=6.0, rssi=-130.0,
           extra={"freq": "not a number"}),
        up("A1", DAY0 + DAY + MINUTE, 4, "aabbccddeeff", extra={"frequency": 868_150_000}),
        up("B2", DAY0 + 30 * MINUTE, 1, "aa", snr=30.0, rssi=-90.0),
        up("C3", DAY0 + 15 * MINUTE, 1, snr=99.0, rssi=-1.0),
    )  # fmt: skip
    two = [{"bsId": "1A2B", "rssi": -120, "snr": 12, "nbRep": 3}, {"bsId": "3C4D"}]
    await advanced(store, "A1", DAY0 + 10 * MINUTE, 1, lqi="GOOD", duplicates=two)
    await advanced(store, "A1", DAY0 + 20 * MINUTE, 2, linkQuality=3, duplicates=[*two, {}])
    await advanced(store, "A1", DAY0 + HOUR + 5 * MINUTE, 3, lqi="odd", duplicates={"x": 1})
    await advanced(store, "B2", DAY0 + 30 * MINUTE, 1, lqi="limit", duplicates=[{"bsId": "9"}])
    await status(store, "A1", DAY0 + 5 * MINUTE, 20.0, 3.3)
    await status(store, "A1", DAY0 + 50 * MINUTE, 24.0, 3.1)
    await status(store, "C3", DAY0 + 5 * MINUTE, -40.0, 2.0)
    await downlink(store, "A1", "acked", DAY0 + 10 * MINUTE, DAY0 + 11 * MINUTE)
    await downlink(store, "A1", "failed", DAY0 + 20 * MINUTE, DAY0 + HOUR + MINUTE)
    await downlink(store, "A1", "sent", DAY0 + 40 * MINUTE, DAY0 + 40 * MINUTE)
    await downlink(store, "A1", "expired", DAY0 + 30 * MINUTE, DAY0 + 30 * MINUTE)
    return t.id


async def test_device_statistics_by_hour(store: SqlStore) -> None:
    await fleet(store)
    found = await store.statistics.device_statistics(
        "A1", since=DAY0, before=DAY0 + 2 * DAY, width=HOUR
    )
    assert [b.start for b in found] == [DAY0, DAY0 + HOUR, DAY0 + DAY]
    first, second, third = found
    assert (first.messages, first.bytes) == (2, 6)
    assert first.snr == Spread(2, 30.0, 10.0, 20.0)
    assert first.rssi == Spread(2, -220.0, -120.0, -100.0)
    assert first.frequency == Spread(1, 868_130_000.0, 868_130_000.0, 868_130_000.0)
    assert first.link_quality == {LinkQuality.GOOD: 1, LinkQuality.EXCELLENT: 1}
    assert first.base_stations == Spread(2, 5.0, 2.0, 3.0)  # the length of ``duplicates``
    assert first.station_counts == {2: 1, 3: 1}
    assert first.reports == 2
    assert first.temperature == Spread(2, 44.0, 20.0, 24.0)
    assert first.battery is not None and first.battery.mean == 3.2
    assert first.downlinks == DownlinkOutcomes(sent=3, acked=1, failed=0, expired=1)
    # a text that is not a number is left out; so are an unknown lqi and duplicates not a list
    assert (second.messages, second.bytes, second.frequency) == (1, 0, None)
    assert (second.link_quality, second.base_stations, second.station_counts) == ({}, None, {})
    assert second.downlinks == DownlinkOutcomes(failed=1)
    assert (second.reports, second.temperature) == (0, None)
    assert (third.messages, third.bytes, third.snr) == (1, 6, None)
    assert third.frequency == Spread(1, 868_150_000.0, 868_150_000.0, 868_150_000.0)


async def test_device_statistics_by_day_and_range(store: SqlStore) -> None:
    await fleet(store)
    days = await store.statistics.device_statistics(
        "A1", since=DAY0, before=DAY0 + 2 * DAY, width=DAY
    )
    assert [(b.start, b.messages) for b in days] == [(DAY0, 3), (DAY0 + DAY, 1)]
    assert days[0].snr == Spread(3, 36.0, 6.0, 20.0)
    # since is inclusive, before exclusive; the bucket keeps its aligned start
    part = await store.statistics.device_statistics(
        "A1", since=DAY0 + 20 * MINUTE, before=DAY0 + DAY + MINUTE, width=DAY
    )
    assert [(b.start, b.messages, b.reports) for b in part] == [(DAY0, 2, 1)]
    assert (
        await store.statistics.device_statistics("FFFF", since=DAY0, before=DAY0 + DAY, width=DAY)
        == []
    )


async def test_device_type_statistics_add_up_its_devices(store: SqlStore) -> None:
    type_id = await fleet(store)
    found = await store.statistics.device_type_statistics(
        type_id, since=DAY0, before=DAY0 + 2 * DAY, width=DAY
    )
    assert [(b.start, b.messages) for b in found] == [(DAY0, 4), (DAY0 + DAY, 1)]
    day = found[0]
    assert day.snr == Spread(4, 66.0, 6.0, 30.0)  # not C3's 99
    assert day.link_quality == {
        LinkQuality.GOOD: 1,
        LinkQuality.EXCELLENT: 1,
        LinkQuality.LIMIT: 1,
    }
    assert day.station_counts == {1: 1, 2: 1, 3: 1}
    assert day.temperature == Spread(2, 44.0, 20.0, 24.0)  # not C3's -40
    total = merge_buckets(DAY0, found)
    assert (total.messages, total.bytes) == (5, 13)
    assert total.downlinks == DownlinkOutcomes(sent=3, acked=1, failed=1, expired=1)
    assert (
        await store.statistics.device_type_statistics("0" * 24, since=0, before=DAY0 * 2, width=DAY)
        == []
    )


async def test_the_hourly_rows_are_rebuilt_from_what_is_stored(store: SqlStore) -> None:
    """The migration that creates ``type_hourly`` counts what was stored before it."""
    type_id = await fleet(store)
    window = {"since": DAY0, "before": DAY0 + 2 * DAY, "width": HOUR}
    kept = await store.statistics.device_type_statistics(type_id, **window)
    async with store.database.engine.begin() as conn:
        await conn.execute(sa.delete(type_hourly))
        await conn.run_sync(backfill)
    assert await store.statistics.device_type_statistics(type_id, **window) == kept


async def test_messages_count_in_the_type_their_device_was_in(store: SqlStore) -> None:
    type_id = await fleet(store)
    root = await store.identity.root_group()
    later = device_type(root, "later")
    await store.devices.create_device_type(later)
    moved = await store.devices.get_device("B2")
    assert moved is not None
    await store.devices.update_device(replace(moved, device_type_id=later.id))
    await ingest(store, up("B2", DAY0 + 40 * MINUTE, 2, snr=1.0))
    window = {"since": DAY0, "before": DAY0 + DAY, "width": DAY}
    [before_move] = await store.statistics.device_type_statistics(type_id, **window)
    [after_move] = await store.statistics.device_type_statistics(later.id, **window)
    assert (before_move.messages, after_move.messages) == (4, 1)
    assert after_move.snr == Spread(1, 1.0, 1.0, 1.0)


async def test_message_positions_and_stations(store: SqlStore) -> None:
    await ingest(
        store,
        up("A1", DAY0, 1, station="1a2b", lat=43.0, lng=1.0),
        up("A1", DAY0 + MINUTE, 2, station="1A2B", lat=44.0, lng=2.0),
        up("A1", DAY0 + 2 * MINUTE, 3, station="3C4D"),
        up("A1", DAY0 + 3 * MINUTE, 4),
        up("B2", DAY0, 1, station="9999", lat=10.0, lng=10.0),
    )
    await advanced(
        store,
        "A1",
        DAY0 + 2 * MINUTE,
        3,
        duplicates=[{"bsId": "3c4d"}, {"bsId": "1A2B"}, "junk", {"bsId": ""}],
        computed={
            "computed_lat": 43.5,
            "computed_lng": 1.5,
            "computed_radius": 2500,
            "computed_source": 6,
        },
    )
    found = await store.locations.message_positions("A1", limit=10)
    assert [(p.time, p.seq_number) for p in found] == [
        (DAY0 + 2 * MINUTE, 3),
        (DAY0 + MINUTE, 2),
        (DAY0, 1),
    ]  # the message with no position data is not there
    newest = found[0]
    assert newest.stations == ("3C4D", "1A2B")
    assert (newest.computed_lat, newest.computed_lng, newest.computed_radius) == (43.5, 1.5, 2500)
    assert newest.computed_source == 6
    assert (found[1].lat, found[1].lng, found[1].stations) == (44.0, 2.0, ("1A2B",))
    older = await store.locations.message_positions("A1", limit=1, before=(DAY0 + MINUTE, 2))
    assert [p.seq_number for p in older] == [1]
    stations = await store.locations.station_positions("A1")
    assert set(stations) == {"1A2B"}  # 3C4D's messages carry no lat/lng; B2's are not A1's
    assert (stations["1A2B"].lat, stations["1A2B"].lng, stations["1A2B"].messages) == (
        43.5,
        1.5,
        2,
    )
