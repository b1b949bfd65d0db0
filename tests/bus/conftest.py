"""Fixtures and small clients for the broker tests: a raw MQTT client (exact bytes) and paho."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, cast

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from lorafox.bus.broker import BrokerLimits, EmbeddedBroker
from lorafox.bus.mqtt_codec import ConnAck, Connect, Packet, PacketDecoder, Will

TIMEOUT = 3.0
"""How long a test waits for something that should happen at once."""


class RawClient:
    """An MQTT client speaking bytes through the codec: for exact packets and misbehaviour."""

    opened: ClassVar[list[RawClient]] = []
    """Every client of the current test, closed when it ends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.transport = cast(asyncio.Transport, writer.transport)
        RawClient.opened.append(self)
        self._decoder = PacketDecoder()
        self._packets: list[Packet] = []

    @classmethod
    async def open(cls, port: int, *, receive_buffer: int | None = None) -> RawClient:
        if receive_buffer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            reader, writer = await asyncio.open_connection(sock=sock, limit=receive_buffer)
        return cls(reader, writer)

    @classmethod
    async def connected(
        cls,
        port: int,
        client_id: str = "raw",
        *,
        clean_session: bool = True,
        keep_alive: int = 0,
        will: Will | None = None,
        receive_buffer: int | None = None,
    ) -> tuple[RawClient, ConnAck]:
        client = await cls.open(port, receive_buffer=receive_buffer)
        connack = await client.connect(
            Connect(client_id, clean_session=clean_session, keep_alive=keep_alive, will=will)
        )
        assert connack.return_code == 0, connack
        return client, connack

    async def send(self, data: bytes | Packet) -> None:
        self.writer.write(data if isinstance(data, bytes) else data.encode())
        await self.writer.drain()

    async def connect(self, connect: Connect) -> ConnAck:
        if connect.protocol_level == 5:
            self._decoder = PacketDecoder(protocol_level=5)
        await self.send(connect)
        packet = await self.recv()
        assert isinstance(packet, ConnAck), packet
        return packet

    async def recv(self, seconds: float = TIMEOUT) -> Packet:
        async with asyncio.timeout(seconds):
            while not self._packets:
                data = await self.reader.read(65536)
                if not data:
                    raise ConnectionResetError("the broker closed the connection")
                self._packets.extend(self._decoder.feed(data))
        return self._packets.pop(0)

    async def is_closed_by_peer(self, seconds: float = TIMEOUT) -> bool:
        """Read (and drop) until the broker closes the connection; False after ``seconds``."""
        try:
            async with asyncio.timeout(seconds):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            pass
        return True

    async def nothing_within(self, seconds: float) -> bool:
        """True when no packet arrives within ``seconds``."""
        try:
            packet = await self.recv(seconds)
        except TimeoutError:
            return True
        self._packets.insert(0, packet)
        return False

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@pytest.fixture(autouse=True)
async def _close_raw_clients() -> AsyncIterator[None]:
    yield
    clients = list(RawClient.opened)
    RawClient.opened.clear()
    for client in clients:
        client.transport.abort()
        with contextlib.suppress(ConnectionError):
            await client.writer.wait_closed()


class PahoClient:
    """A paho-mqtt 2.x client on its own network thread, reporting to the test's event loop."""

    def __init__(
        self,
        port: int,
        client_id: str = "",
        *,
        clean_session: bool = True,
        username: str | None = None,
        password: str | None = None,
        protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv311,
    ) -> None:
        self.port = port
        self.loop = asyncio.get_running_loop()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=protocol,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.messages: asyncio.Queue[paho.MQTTMessage] = asyncio.Queue()
        self._connack: asyncio.Future[tuple[paho.ConnectFlags, ReasonCode]] | None = None
        self._subacks: dict[int, asyncio.Future[list[ReasonCode]]] = {}
        self._started = False

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        future = self._connack
        if future is not None:
            self.loop.call_soon_threadsafe(_resolve, future, (flags, reason_code))

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self.loop.call_soon_threadsafe(self.messages.put_nowait, message)

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        self.loop.call_soon_threadsafe(self._suback, mid, reason_codes)

    def _suback(self, mid: int, reason_codes: list[ReasonCode]) -> None:
        # Runs on the event loop, hence after ``subscribe`` registered the future for ``mid``.
        future = self._subacks.pop(mid, None)
        if future is not None:
            _resolve(future, reason_codes)

    async def connect(self, keep_alive: int = 60) -> tuple[paho.ConnectFlags, ReasonCode]:
        self._connack = self.loop.create_future()
        await asyncio.to_thread(self.client.connect, "127.0.0.1", self.port, keep_alive)
        self.client.loop_start()
        self._started = True
        return await asyncio.wait_for(self._connack, TIMEOUT)

    async def subscribe(self, topic_filter: str, qos: int = 0) -> list[int]:
        future: asyncio.Future[list[ReasonCode]] = self.loop.create_future()
        _result, mid = self.client.subscribe(topic_filter, qos)
        assert mid is not None
        self._subacks[mid] = future
        codes = await asyncio.wait_for(future, TIMEOUT)
        return [code.value for code in codes]

    async def publish(
        self, topic: str, payload: bytes, qos: int = 0, *, retain: bool = False
    ) -> None:
        info = self.client.publish(topic, payload, qos, retain)
        await asyncio.to_thread(info.wait_for_publish, TIMEOUT)

    async def message(self, seconds: float = TIMEOUT) -> paho.MQTTMessage:
        return await asyncio.wait_for(self.messages.get(), seconds)

    async def stop(self) -> None:
        if self._started:
            self._started = False
            self.client.disconnect()
            await asyncio.to_thread(self.client.loop_stop)


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


PahoFactory = Callable[..., PahoClient]


def anonymous_broker(limits: BrokerLimits | None = None) -> EmbeddedBroker:
    """A broker for anonymous clients on a free port of 127.0.0.1, with ``limits``."""
    return EmbeddedBroker("127.0.0.1", 0, authenticate=None, allow_anonymous=True, limits=limits)


@pytest.fixture
async def broker() -> AsyncIterator[EmbeddedBroker]:
    """An anonymous broker on a free port of 127.0.0.1."""
    async with anonymous_broker() as b:
        yield b


@pytest.fixture
async def paho_client(broker: EmbeddedBroker) -> AsyncIterator[PahoFactory]:
    """Makes paho clients for ``broker`` (stopped before the broker)."""
    clients: list[PahoClient] = []

    def make(client_id: str = "", **kwargs: Any) -> PahoClient:
        client = PahoClient(broker.port, client_id, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.stop()


async def wait_until(condition: Callable[[], bool], seconds: float = TIMEOUT) -> None:
    """Poll broker state every few milliseconds until ``condition`` holds (or fail)."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 (the broker has no event for these states)
            await asyncio.sleep(0.005)


Handler = Callable[[str, bytes], Awaitable[None]]
