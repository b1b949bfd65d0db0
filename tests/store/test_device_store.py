"""Device types and devices in the SQL store, on SQLite (its fast writer) and on PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest

from lorafox.domain import Device, DeviceType, Group, Uplink, new_id
from lorafox.errors import Conflict, NotFound
from lorafox.ports.store import DeviceQuery, DeviceTypeQuery
from lorafox.store.sql.store import SqlStore
from tests.store.test_identity_store import child


def device_type(group: Group, name: str = "sensors") -> DeviceType:
    return DeviceType.blank(new_id(), name, group.id, created_at=1)


def device(device_id: str, t: DeviceType, name: str = "") -> Device:
    return t.device(device_id, name or f"dev {device_id}", 2, pac="0011223344556677")


async def test_device_types_and_devices(store: SqlStore) -> None:
    root = await store.identity.root_group()
    a, b = child(root, "A"), child(root, "B")
    for g in (a, b):
        await store.identity.create_group(g)
    ta, tb = device_type(a, "in A"), device_type(b, "in B")
    for t in (ta, tb):
        await store.devices.create_device_type(t)
    with pytest.raises(Conflict):
        await store.devices.create_device_type(ta)
    assert await store.devices.get_device_type(ta.id) == ta
    assert await store.devices.list_device_types(DeviceTypeQuery(paths=(a.path,))) == [ta]
    assert len(await store.devices.list_device_types(DeviceTypeQuery(paths=(root.path,)))) == 2
    assert await store.devices.list_device_types(
        DeviceTypeQuery(paths=(root.path,), name="IN b")
    ) == [tb]
    changed = dataclasses.replace(ta, name="renamed", keep_alive=3600, edited_at=5)
    await store.devices.update_device_type(changed)
    assert await store.devices.get_device_type(ta.id) == changed

    problems = await store.devices.create_devices(
        [device("1A", ta), device("2B", tb), device("1A", tb), device("3C", device_type(a))]
    )
    assert problems[:2] == [None, None]
    assert problems[2] is not None and "already exists" in problems[2]
    assert problems[3] is not None and "not found" in problems[3]
    assert await store.devices.device_index() == {"1A": ta.id, "2B": tb.id}
    assert {t.id for t in await store.devices.all_device_types()} == {ta.id, tb.id}

    with pytest.raises(Conflict):
        await store.devices.delete_device_type(ta.id)
    with pytest.raises(Conflict):
        await store.identity.delete_group(a.id)  # it holds a device type

    found = await store.devices.list_devices(DeviceQuery(paths=(a.path,)))
    assert [(d.id, d.group_id, d.last_com) for d in found] == [("1A", a.id, None)]
    # moving to another type moves to its group
    await store.devices.update_device(
        dataclasses.replace(found[0], device_type_id=tb.id, name="moved")
    )
    moved = await store.devices.get_device("1A")
    assert moved is not None and (moved.group_id, moved.name) == (b.id, "moved")
    assert await store.devices.list_devices(DeviceQuery(paths=(a.path,))) == []
    await store.devices.delete_device_type(ta.id)
    with pytest.raises(NotFound):
        await store.devices.delete_device_type(ta.id)


async def test_listing_filters_sorts_and_pages(store: SqlStore) -> None:
    root = await store.identity.root_group()
    t = device_type(root)
    await store.devices.create_device_type(t)
    ids = ["1", "2", "A", "10", "FF", "100"]
    await store.devices.create_devices([device(i, t, name=f"n{9 - n}") for n, i in enumerate(ids)])
    q = DeviceQuery(paths=(root.path,))
    assert [d.id for d in await store.devices.list_devices(q)] == ["1", "2", "A", "10", "FF", "100"]
    assert [d.id for d in await store.devices.list_devices(dataclasses.replace(q, sort="-id"))][
        :2
    ] == [
        "100",
        "FF",
    ]
    by_name = await store.devices.list_devices(dataclasses.replace(q, sort="name"))
    assert by_name[0].id == "100"
    page = await store.devices.list_devices(dataclasses.replace(q, limit=4, offset=4))
    assert [d.id for d in page] == ["FF", "100"]
    assert await store.devices.list_devices(dataclasses.replace(q, offset=6)) == []
    assert [d.id for d in await store.devices.list_devices(dataclasses.replace(q, ids=("A",)))] == [
        "A"
    ]
    assert await store.devices.list_devices(dataclasses.replace(q, device_type_id=new_id())) == []


async def test_last_com_comes_from_the_messages(store: SqlStore) -> None:
    root = await store.identity.root_group()
    t = device_type(root)
    await store.devices.create_device_type(t)
    await store.devices.create_devices([device("1A", t), device("2B", t)])
    uplinks = [Uplink("1A", 1000 * s, s, "") for s in (5, 7, 6)]
    await store.messages.ingest([(u, False) for u in uplinks])
    got = await store.devices.get_device("1A")
    assert got is not None and (got.last_com, got.seq_number) == (7000, 7)
    listed = await store.devices.list_devices(DeviceQuery(paths=(root.path,)))
    assert [(d.id, d.seq_number) for d in listed] == [("1A", 7), ("2B", None)]
    type_messages = await store.messages.list_type_messages(t.id, limit=2)
    assert [m.uplink.seq_number for m in type_messages] == [7, 6]
    assert len(await store.messages.list_type_messages(t.id, limit=10, before=6000)) == 1


async def test_listing_by_state_and_last_message(store: SqlStore) -> None:
    root = await store.identity.root_group()
    t = device_type(root)
    await store.devices.create_device_type(t)
    idle = dataclasses.replace(device("3C", t), activable=False)
    await store.devices.create_devices([device("1A", t), device("2B", t), idle])
    uplinks = [Uplink("1A", 9000, 1, ""), Uplink("2B", 4000, 1, ""), Uplink("2B", 3000, 0, "")]
    await store.messages.ingest([(u, False) for u in uplinks])

    async def ids(**query: object) -> list[str]:
        found = await store.devices.list_devices(DeviceQuery(paths=(root.path,), **query))  # type: ignore[arg-type]
        return [d.id for d in found]

    assert await ids(activable=False) == ["3C"]
    assert await ids(activable=True) == ["1A", "2B"]
    assert await ids(seen_since=4000) == ["1A", "2B"]
    assert await ids(seen_since=5000) == ["1A"]
    assert await ids(silent_since=5000) == ["2B", "3C"]  # never heard counts as silent
    assert await ids(sort="-lastCom") == ["1A", "2B", "3C"]
    assert await ids(sort="lastCom") == ["3C", "2B", "1A"]


async def test_ingest_provisions_devices_in_the_same_transaction(store: SqlStore) -> None:
    root = await store.identity.root_group()
    t = device_type(root)
    await store.devices.create_device_type(t)
    await store.devices.create_devices([device("2B", t, name="mine")])
    new = dataclasses.replace(device("1A", t), pac="", provisioned=True)
    again = dataclasses.replace(device("2B", t), name="not mine", provisioned=True)
    batch = [(Uplink("1A", 1000, 1, ""), False), (Uplink("2B", 1000, 1, ""), False)]
    results = await store.messages.ingest(batch, [new, again])
    assert all(r.stored is not None for r in results)
    made = await store.devices.get_device("1A")
    assert made is not None and made.provisioned and made.seq_number == 1
    kept = await store.devices.get_device("2B")
    assert kept is not None and kept.name == "mine" and not kept.provisioned
    # a device type deleted meanwhile: the device is not created, the uplink is stored
    gone = device_type(root, "gone")
    orphan = dataclasses.replace(device("3C", gone), provisioned=True)
    [result] = await store.messages.ingest([(Uplink("3C", 1000, 1, ""), False)], [orphan])
    assert result.stored is not None and await store.devices.get_device("3C") is None


async def test_delete_keeps_or_purges_the_messages(store: SqlStore) -> None:
    root = await store.identity.root_group()
    t = device_type(root)
    await store.devices.create_device_type(t)
    await store.devices.create_devices([device("1A", t), device("2B", t)])
    await store.messages.ingest([(Uplink(d, 1000, 1, ""), False) for d in ("1A", "2B")])
    await store.downlinks.enqueue_downlink("2B", "0102030405060708", source="api")
    assert await store.devices.delete_device("1A") == 0
    assert len(await store.messages.list_messages("1A", limit=10)) == 1
    assert await store.devices.delete_device("2B", purge=True) == 1
    assert await store.messages.list_messages("2B", limit=10) == []
    assert await store.downlinks.list_downlinks("2B") == []
    with pytest.raises(NotFound):
        await store.devices.delete_device("2B")
