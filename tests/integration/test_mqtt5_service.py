"""MQTT 5 in a running lorafox: the settings of the ``mqtt`` section reach the embedded broker,
and uplinks carry their content type and a correlation id, as a paho-mqtt ``MQTTv5`` client
logged in to lorafox sees them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

from tests.conftest import Running
from tests.integration.helpers import ADMIN, SIGFOX
from tests.integration.test_sigfox_flow import body


def test_mqtt5_settings(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory(
        mqtt={
            "server_keep_alive_seconds": 7,
            "topic_alias_maximum": 3,
            "receive_maximum": 20,
            "refused_subscriptions": ["test/nosubscribe"],
        }
    )
    assert lorafox.mqtt_port is not None
    connected = threading.Event()
    subscribed = threading.Event()
    seen: dict[str, Any] = {}

    def on_connect(_c: Any, _u: Any, _f: Any, code: Any, properties: Any) -> None:
        seen["connack"] = (code.value, properties)
        connected.set()

    def on_subscribe(_c: Any, _u: Any, _m: Any, codes: list[Any], _p: Any) -> None:
        seen["suback"] = [code.value for code in codes]
        subscribed.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.username_pw_set(*ADMIN)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.connect("127.0.0.1", lorafox.mqtt_port, keepalive=60)
    client.loop_start()
    try:
        assert connected.wait(10)
        code, properties = seen["connack"]
        assert code == 0
        assert properties.ServerKeepAlive == 7
        assert properties.TopicAliasMaximum == 3
        assert properties.ReceiveMaximum == 20
        client.subscribe("test/nosubscribe", options=SubscribeOptions(qos=1))
        assert subscribed.wait(10)
        assert seen["suback"] == [0x80]
    finally:
        client.disconnect()
        client.loop_stop()


def test_uplinks_carry_content_type_and_correlation_id(lorafox: Running) -> None:
    assert lorafox.mqtt_port is not None
    subscribed = threading.Event()
    received: list[mqtt.MQTTMessage] = []
    arrived = threading.Event()

    def on_connect(client: mqtt.Client, _u: Any, _f: Any, _code: Any, _p: Any) -> None:
        client.subscribe("sigfox/uplink/#", options=SubscribeOptions(qos=1))

    def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        received.append(message)
        if len(received) == 2:
            arrived.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.username_pw_set(*ADMIN)
    client.on_connect = on_connect
    client.on_subscribe = lambda *_args: subscribed.set()
    client.on_message = on_message
    client.connect("127.0.0.1", lorafox.mqtt_port)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        with httpx.Client(base_url=lorafox.base_url, timeout=10) as http:
            for seq in (1, 2):
                answer = http.post("/sigfox/uplink", json=body("5AB", seq), auth=SIGFOX)
                assert answer.status_code == 204, answer.text
        assert arrived.wait(10)
        first, second = (getattr(m, "properties", None) for m in received)
        assert getattr(first, "ContentType", None) == "application/json"
        assert getattr(second, "ContentType", None) == "application/json"
        assert getattr(first, "CorrelationData", None) != getattr(second, "CorrelationData", None)
        assert orjson.loads(received[0].payload)["seqNumber"] == 1
    finally:
        client.disconnect()
        client.loop_stop()
