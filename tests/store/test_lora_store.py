"""The LoRa side of the store, on every spelling: integrations, LoRa downlinks, and DevEUI ids
with payloads up to 255 bytes in the Sigfox tables."""

from __future__ import annotations

import asyncio
import dataclasses

from lorafox.domain import DownlinkState, LoraIntegration, LoraKind, Uplink
from lorafox.store.sql.store import SqlStore

DEVICE = "0000000009372163"


async def _integration(store: SqlStore) -> LoraIntegration:
    root = await store.identity.root_group()
    made = LoraIntegration(
        id="a1" * 12,
        name="ns",
        kind=LoraKind.TTS,
        group_id=root.id,
        token_hash="0" * 64,
        created_at=1,
        app_eui="0000037817737f13",
        config={"downlinkPushUrl": "http://x", "downlinkApiKey": "encrypted"},
    )
    await store.lora.create_lora_integration(made)
    return made


async def test_integrations(store: SqlStore) -> None:
    made = await _integration(store)
    assert await store.lora.get_lora_integration(made.id) == made
    root = await store.identity.root_group()
    assert await store.lora.list_lora_integrations([root.path]) == [made]
    assert await store.lora.list_lora_integrations([]) == []
    assert await store.lora.list_lora_integrations(None) == [made]
    changed = dataclasses.replace(made, name="renamed", config={"priority": "HIGH"})
    await store.lora.update_lora_integration(changed)
    assert await store.lora.get_lora_integration(made.id) == changed
    await store.lora.delete_lora_integration(made.id)
    assert await store.lora.get_lora_integration(made.id) is None


async def test_lora_downlinks(store: SqlStore) -> None:
    sigfox = await store.downlinks.enqueue_downlink("CAFE", "0102030405060708", source="api")
    assert await store.lora.get_lora_downlink(sigfox.id) is None  # not a LoRa one
    first = await store.lora.enqueue_lora_downlink(
        DEVICE, "ff" * 255, port=3, confirmed=True, source="api"
    )
    second = await store.lora.enqueue_lora_downlink(
        DEVICE, "01", port=4, confirmed=False, source="mqtt"
    )
    assert (first.port, first.confirmed, first.state) == (3, True, DownlinkState.QUEUED)
    claims = await asyncio.gather(
        store.lora.claim_lora_downlinks(DEVICE, "a", limit=16),
        store.lora.claim_lora_downlinks(DEVICE, "b", limit=16),
    )
    claimed = sorted(d.id for found in claims for d in found)
    assert claimed == [first.id, second.id]  # each handed over once
    await store.lora.set_lora_downlink(first.id, DownlinkState.QUEUED, network_id="7")
    await store.lora.set_lora_downlink(second.id, DownlinkState.QUEUED, network_id="")
    assert [d.id for d in await store.lora.claim_lora_downlinks(DEVICE, "c", limit=16)] == [
        second.id
    ]
    found = await store.lora.find_lora_downlink(DEVICE, "7")
    assert found is not None and found.id == first.id
    sent = await store.lora.set_lora_downlink(first.id, DownlinkState.SENT)
    assert sent is not None and sent.sent_at is not None
    acked = await store.lora.set_lora_downlink(first.id, DownlinkState.ACKED, info_message="ok")
    assert acked is not None and acked.ended_at is not None and acked.info_message == "ok"
    assert await store.lora.set_lora_downlink(sigfox.id, DownlinkState.ACKED) is None


async def test_deveui_messages_with_long_payloads(store: SqlStore) -> None:
    uplink = Uplink(
        device=DEVICE,
        time=1_000,
        seq_number=70_000,
        data="ab" * 255,
        extra={"network": "lora", "fPort": 1},
    )
    [result] = await store.messages.ingest([(uplink, False)])
    assert result.stored is not None
    [listed] = await store.messages.list_messages(DEVICE, limit=10)
    assert listed.uplink.data == "ab" * 255
    assert listed.uplink.extra["fPort"] == 1


async def test_a_message_s_extra_can_be_replaced(store: SqlStore) -> None:
    uplink = Uplink(device=DEVICE, time=2_000, seq_number=1, data="01", extra={"gateways": []})
    await store.messages.ingest([(uplink, False)])
    merged = {"gateways": [{"id": "a"}, {"id": "b"}]}
    assert await store.lora.set_message_extra(DEVICE, 2_000, 1, merged)
    assert not await store.lora.set_message_extra(DEVICE, 2_001, 1, merged)
    [listed] = await store.messages.list_messages(DEVICE, limit=10)
    assert listed.uplink.extra == merged


async def test_where_many_devices_downlinks_go_saved_at_once(store: SqlStore) -> None:
    made = await _integration(store)
    await store.lora.save_lora_device(DEVICE, None, {"deviceId": "old"})
    await store.lora.save_lora_devices(
        [(DEVICE, made.id, {"deviceId": "dev1"}), ("0102030405060708", made.id, {})]
    )
    await store.lora.save_lora_devices([])
    found = sorted(await store.lora.lora_devices(limit=10))
    assert found == [
        ("0000000009372163", made.id, {"deviceId": "dev1"}),
        ("0102030405060708", made.id, {}),
    ]
