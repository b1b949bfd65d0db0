"""A paho-mqtt client that records what it receives, for tests."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import ADMIN_PASSWORD, free_port


class Recorder:
    """Subscribes to topic filters and keeps every message; ``wait_for`` blocks until one comes."""

    def __init__(
        self,
        host: str,
        port: int,
        *filters: str,
        username: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        if tls is not None:
            self.client.tls_set_context(tls)
        if username is None:  # lorafox's broker wants a login; an anonymous Mosquitto takes one
            username, password = "admin", ADMIN_PASSWORD
        self.client.username_pw_set(username, password)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe([(f, 1) for f in filters])
        assert self._subscribed.wait(10), "no SUBACK"

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((message.topic, bytes(message.payload)))
            self._cond.notify_all()

    def on(self, topic: str) -> list[dict[str, Any]]:
        with self._cond:
            return [orjson.loads(p) for t, p in self.messages if t == topic]

    def wait_for(self, topic: str, count: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len([1 for t, _ in self.messages if t == topic]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} message(s) on {topic}, got {self.messages!r}"
                    )
                self._cond.wait(left)
        return self.on(topic)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos=qos).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def wait_until(predicate: Any, timeout: float = 10, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


class Forwarder:
    """A TCP forwarder on loopback, as a local TLS-terminating proxy is: every client it
    relays reaches the broker from 127.0.0.1."""

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.port = port or free_port()
        self._target = target_port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                with contextlib.suppress(OSError):
                    while data := await reader.read(65536):
                        writer.write(data)
                        await writer.drain()
            finally:
                writer.transport.abort()  # closed, even when cancelled: both ends see it

        async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        async def main() -> None:
            self._server = await asyncio.start_server(relay, "127.0.0.1", self.port)
            self._ready.set()
            await self._server.serve_forever()

        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            self._loop.run_until_complete(main())
        left = asyncio.all_tasks(self._loop)  # the relays, cancelled by close()
        self._loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        for task in asyncio.all_tasks(self._loop):
            self._loop.call_soon_threadsafe(task.cancel)
        self._thread.join(10)
