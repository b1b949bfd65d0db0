"""Events, STATUS reports, downlink outcomes and DATA_ADVANCED details in the SQL store, on
SQLite and PostgreSQL: each state change is committed with its events."""

from __future__ import annotations

from collections.abc import Sequence

from lorafox.domain import (
    Acknowledgement,
    AdvancedData,
    Device,
    DeviceStatus,
    DeviceType,
    Downlink,
    DownlinkMode,
    DownlinkState,
    Event,
    EventType,
    PayloadType,
    Severity,
    Uplink,
)
from lorafox.store.sql.store import SqlStore

NOW = 1_800_000_000_000


def event(device: str, time: int, kind: EventType = EventType.ERROR) -> Event:
    return Event(kind, Severity.ERROR, time, f"at {time}", device=device, device_type_id="t1")


async def test_events_are_listed_newest_first_by_device_and_type(store: SqlStore) -> None:
    stored = await store.events.add_events(
        [event("A1", 1000), event("A1", 3000), event("B2", 2000)], now=NOW
    )
    assert all(e.id is not None and e.created_at == NOW for e in stored)
    assert [e.time for e in await store.events.list_events(device="A1", limit=10)] == [3000, 1000]
    by_type = await store.events.list_events(device_type_id="t1", limit=2)
    assert [(e.device, e.time) for e in by_type] == [("A1", 3000), ("B2", 2000)]
    window = await store.events.list_events(device="A1", limit=10, since=1000, before=3000)
    assert [e.time for e in window] == [1000]


async def test_alerts_are_raised_and_cleared_with_their_events(store: SqlStore) -> None:
    await store.events.add_events([event("A1", 1)], now=NOW, raise_alerts={"A1": 500, "B2": 600})
    assert await store.events.alerts() == {"A1": 500, "B2": 600}
    await store.events.add_events([event("A1", 2)], now=NOW, raise_alerts={"A1": 999})  # kept as is
    await store.events.add_events([], now=NOW, clear_alerts=["B2"])
    assert await store.events.alerts() == {"A1": 500}


async def test_status_reports_are_kept_once_and_see_the_previous_one(store: SqlStore) -> None:
    seen: list[DeviceStatus | None] = []

    def found(previous: DeviceStatus | None) -> Sequence[Event]:
        seen.append(previous)
        return [event("A1", 10)]

    first = DeviceStatus("A1", 1000, 3, 20.5, 3.3)
    assert await store.events.record_status(first, found, NOW) == (True, [await _last_event(store)])
    new, events = await store.events.record_status(
        DeviceStatus("A1", 2000, 4, 19.0, 2.5), found, NOW
    )
    assert new and len(events) == 1
    assert seen == [None, first]
    again, none = await store.events.record_status(first, found, NOW)
    assert (again, none) == (False, [])
    assert await store.events.latest_status("A1") == DeviceStatus("A1", 2000, 4, 19.0, 2.5)


async def _last_event(store: SqlStore) -> Event:
    [last] = await store.events.list_events(device="A1", limit=1)
    return last


async def test_acknowledge_matches_the_answered_message(store: SqlStore) -> None:
    first = await store.downlinks.enqueue_downlink("A1", "0102030405060708", source="api")
    second = await store.downlinks.enqueue_downlink("A1", "1112131415161718", source="api")
    await store.messages.ingest([(Uplink("A1", 10_000, 1, "00", ack=True), True)])
    await store.messages.ingest([(Uplink("A1", 20_000, 2, "00", ack=True), True)])

    def found(downlink: Downlink | None) -> Sequence[Event]:
        return [] if downlink is None else [event("A1", 5, EventType.DOWNLINK_FAILED)]

    failed = Acknowledgement("A1", 10_000, 1, "no answer", False, False)
    downlink, events = await store.events.acknowledge(failed, found, NOW)
    assert downlink is not None and downlink.id == first.id
    assert (downlink.state, downlink.info_code, downlink.ended_at) == (
        DownlinkState.FAILED,
        1,
        NOW,
    )
    assert len(events) == 1
    retried, nothing = await store.events.acknowledge(failed, found, NOW + 1)
    assert retried is not None and retried.ended_at == NOW and nothing == []
    # a NO_ANSWER for a message lorafox answered with 204 leaves the others alone
    no_answer = Acknowledgement("A1", 30_000, 1, None, False, None)
    assert await store.events.acknowledge(no_answer, found, NOW) == (None, [])
    acked, _ = await store.events.acknowledge(
        Acknowledgement("A1", 20_000, 0, None, True, None), found, NOW
    )
    assert acked is not None and (acked.id, acked.state) == (second.id, DownlinkState.ACKED)
    # a downlink handed to a pure downlink request (no message): the ACK finds it anyway
    third = await store.downlinks.enqueue_downlink("A1", "2122232425262728", source="api")
    assert (await store.downlinks.take_downlink("A1", None, None)) is not None
    late, _ = await store.events.acknowledge(
        Acknowledgement("A1", 1, 0, None, True, None), found, NOW
    )
    assert late is not None and (late.id, late.state) == (third.id, DownlinkState.ACKED)
    assert await store.events.acknowledge(
        Acknowledgement("ZZ", 1, 0, None, True, None), found, NOW
    ) == (
        None,
        [],
    )


async def test_direct_answers_are_recorded_once_per_message(store: SqlStore) -> None:
    uplink = Uplink("A1", 10_000, 1, "00", ack=True)
    [first] = await store.messages.ingest([(uplink, "0011223344556677")])
    [again] = await store.messages.ingest([(uplink, "0011223344556677")])
    assert first.downlink is not None and again.downlink is not None
    assert first.downlink.id == again.downlink.id
    assert (first.downlink.source, first.downlink.state) == ("direct", DownlinkState.SENT)
    assert [d.id for d in await store.downlinks.list_downlinks("A1")] == [first.downlink.id]


async def test_decoded_fields_and_advanced_data_are_stored(store: SqlStore) -> None:
    decoded = Uplink("A1", 10_000, 1, "c01234", decoded={"b1": True, "i1": 4660})
    failed = Uplink("A1", 20_000, 2, "c0", decode_error="too short")
    await store.messages.ingest([(decoded, False), (failed, False)])
    details = {"lqi": "GOOD", "duplicates": [{"bsId": "1A2B", "nbRep": 3}]}
    advanced = AdvancedData("A1", 10_000, 1, "c01234", details, 43.6, 1.44, 1500, 2)
    assert await store.events.attach_advanced(advanced, [event("A1", 10_000)], NOW) is not None
    missing = AdvancedData("A1", 30_000, 3, None, details)
    assert await store.events.attach_advanced(missing, [], NOW) is None
    second, first = await store.messages.list_messages("A1", limit=10)
    assert first.uplink.decoded == {"b1": True, "i1": 4660}
    assert first.advanced == details
    assert (second.uplink.decoded, second.uplink.decode_error) == (None, "too short")
    assert second.advanced is None


async def test_queued_downlinks_expire(store: SqlStore) -> None:
    old = await store.downlinks.enqueue_downlink("A1", "0102030405060708", source="api")

    def expired(downlink: Downlink) -> Event:
        return event(downlink.device, NOW, EventType.DOWNLINK_EXPIRED)

    found = await store.events.expire_downlinks(old.created_at + 1, expired, NOW)
    assert [e.type for e in found] == [EventType.DOWNLINK_EXPIRED]
    [gone] = await store.downlinks.list_downlinks("A1")
    assert (gone.state, gone.ended_at) == (DownlinkState.EXPIRED, NOW)
    assert await store.events.expire_downlinks(NOW, expired, NOW) == []


async def test_device_activity_is_each_devices_latest_message(store: SqlStore) -> None:
    root = await store.identity.root_group()
    kind = DeviceType(
        "t1", "t", "", root.id, 1800, None, DownlinkMode.CALLBACK, None,
        PayloadType.REGULAR, None, False, 0, NOW,
    )  # fmt: skip
    await store.devices.create_device_type(kind)
    for device in ("A1", "B2", "C3"):
        made = Device(device, device, "t1", root.id, "0" * 16, None, None, True, False, NOW)
        assert await store.devices.create_devices([made]) == [None]
    await store.messages.ingest(
        [(Uplink("A1", t, s, "00"), False) for t, s in ((1000, 1), (3000, 3), (2000, 2))]
        + [(Uplink("B2", 500, 9, "00"), False), (Uplink("ZZ", 9000, 1, "00"), False)]
    )
    assert await store.events.device_activity() == {"A1": (3000, 3), "B2": (500, 9)}
