"""The Semtech server's connection bound, over real TCP, with the flows stubbed."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from lorafox.domain import Grant, LoraIntegration, LoraKind, Principal, PrincipalKind, Profile
from lorafox.lora.integrations import Sender
from lorafox.lora.model import LoraUplink
from lorafox.lora.semtech import SemtechServer

INTEGRATION = LoraIntegration(
    "a" * 24, "ns", LoraKind.SEMTECH, "b" * 24, "0" * 64, 0, config={"addresses": ["127.0.0.1"]}
)
SENDER = Sender(
    INTEGRATION,
    Principal(PrincipalKind.API_USER, "x", "x", (Grant("b" * 24, "/b/", Profile.DEVICE_MANAGER),)),
)


class _Integrations:
    async def of_kind(self, kind: LoraKind) -> list[LoraIntegration]:
        return [INTEGRATION]

    async def sender(self, integration: LoraIntegration) -> Sender:
        return SENDER

    async def sender_by_id(self, integration_id: str) -> Sender:
        return SENDER


class _Ingest:
    def __init__(self) -> None:
        self.frames: list[LoraUplink] = []

    async def receive_many(self, sender: Sender, frames: list[LoraUplink]) -> list[None]:
        self.frames.extend(frames)
        return [None] * len(frames)

    def event(self, *args: Any, **kwargs: Any) -> None:
        pass


class _Downlinks:
    async def after_uplink(self, device: str) -> None:
        pass


UPLINK = b'{"app":{"moteeui":"1","dir":"up","seqno":1,"userdata":{"port":1,"payload":"AQ=="}}}\0'


async def test_connections_beyond_the_bound_are_closed_and_not_counted() -> None:
    ingest = _Ingest()
    server = SemtechServer(
        "127.0.0.1",
        0,
        cast(Any, _Integrations()),
        cast(Any, ingest),
        cast(Any, _Downlinks()),
        max_connections=1,
    )
    await server.start()
    assert server.port is not None
    try:
        _, first = await asyncio.open_connection("127.0.0.1", server.port)
        await asyncio.sleep(0.1)
        reader, second = await asyncio.open_connection("127.0.0.1", server.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed at once
        second.close()
        await asyncio.sleep(0.1)
        assert server.count == 1
        first.close()
        await asyncio.sleep(0.1)
        assert server.count == 0
        reader, third = await asyncio.open_connection("127.0.0.1", server.port)
        third.write(UPLINK + b'{"ackreq":5}\0')
        assert await asyncio.wait_for(reader.readuntil(b"\0"), 5) == b'{"ack":5}\0'
        assert [f.dev_eui for f in ingest.frames] == ["0000000000000001"]
        third.close()
    finally:
        await server.close()
