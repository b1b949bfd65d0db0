"""The MQTT 5 settings of the ``mqtt`` section reach the embedded broker: what a paho-mqtt
``MQTTv5`` client logged in to lorafox sees."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

from tests.conftest import Running
from tests.integration.helpers import ADMIN


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
