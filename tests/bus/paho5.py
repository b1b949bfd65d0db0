"""A paho-mqtt client speaking MQTT 5, on its own network thread, reporting to the test's loop."""

from __future__ import annotations

import asyncio
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from tests.bus.conftest import TIMEOUT

__all__ = ["PacketTypes", "Paho5", "Properties", "SubscribeOptions", "pget", "props"]


def props(packet_type: int, **values: Any) -> Properties:
    """Paho ``Properties`` of ``packet_type`` with ``values`` (paho's names, e.g. TopicAlias)."""
    properties = Properties(packet_type)  # type: ignore[no-untyped-call]
    for name, value in values.items():
        setattr(properties, name, value)
    return properties


def pget(properties: Properties | None, name: str) -> Any:
    """The property ``name`` (paho's name) of ``properties``; None when absent."""
    return getattr(properties, name, None)


class Paho5:
    """paho-mqtt with ``MQTTv5``: CONNACK, SUBACK and DISCONNECT reason codes and properties,
    and every message received, as the test's event loop sees them."""

    def __init__(self, port: int, client_id: str = "") -> None:
        self.port = port
        self.loop = asyncio.get_running_loop()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.messages: asyncio.Queue[paho.MQTTMessage] = asyncio.Queue()
        self.disconnects: asyncio.Queue[ReasonCode] = asyncio.Queue()
        self.connack: tuple[paho.ConnectFlags, ReasonCode, Properties | None] | None = None
        self._connected: asyncio.Future[None] | None = None
        self._subacks: dict[int, asyncio.Future[list[ReasonCode]]] = {}
        self._started = False

    def _on_connect(self, _c: Any, _u: Any, flags: Any, code: ReasonCode, properties: Any) -> None:
        self.connack = (flags, code, properties)
        future = self._connected
        if future is not None:
            self.loop.call_soon_threadsafe(_done, future)

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        self.loop.call_soon_threadsafe(self.messages.put_nowait, message)

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, codes: list[ReasonCode], _p: Any) -> None:
        self.loop.call_soon_threadsafe(self._suback, mid, codes)

    def _suback(self, mid: int, codes: list[ReasonCode]) -> None:
        future = self._subacks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(codes)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        self.loop.call_soon_threadsafe(self.disconnects.put_nowait, code)

    async def connect(
        self,
        keep_alive: int = 60,
        *,
        clean_start: bool = True,
        properties: Properties | None = None,
        will: tuple[str, bytes, Properties | None] | None = None,
    ) -> tuple[paho.ConnectFlags, ReasonCode, Properties | None]:
        if will is not None:
            self.client.will_set(will[0], will[1], 1, properties=will[2])
        self._connected = self.loop.create_future()
        await asyncio.to_thread(
            self.client.connect,
            "127.0.0.1",
            self.port,
            keep_alive,
            clean_start=clean_start,
            properties=properties,
        )
        self.client.loop_start()
        self._started = True
        await asyncio.wait_for(self._connected, TIMEOUT)
        assert self.connack is not None
        return self.connack

    async def subscribe(
        self, topic_filter: str, options: SubscribeOptions, properties: Properties | None = None
    ) -> list[int]:
        future: asyncio.Future[list[ReasonCode]] = self.loop.create_future()
        _result, mid = self.client.subscribe(topic_filter, options=options, properties=properties)
        assert mid is not None
        self._subacks[mid] = future
        return [code.value for code in await asyncio.wait_for(future, TIMEOUT)]

    async def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        *,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> paho.MQTTMessageInfo:
        info = self.client.publish(topic, payload, qos, retain, properties)
        await asyncio.to_thread(info.wait_for_publish, TIMEOUT)
        return info

    async def message(self, seconds: float = TIMEOUT) -> paho.MQTTMessage:
        return await asyncio.wait_for(self.messages.get(), seconds)

    async def nothing_within(self, seconds: float) -> bool:
        try:
            message = await asyncio.wait_for(self.messages.get(), seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected message on {message.topic}")

    async def drop(self) -> None:
        """Close the socket without DISCONNECT (the will is published)."""
        sock = self.client.socket()
        if sock is not None:
            sock.close()
        await self.stop(disconnect=False)

    async def stop(self, *, disconnect: bool = True) -> None:
        if self._started:
            self._started = False
            if disconnect:
                self.client.disconnect()
            await asyncio.to_thread(self.client.loop_stop)


def _done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
