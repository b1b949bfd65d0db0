"""The republish action's MQTT 5 ``headers``: created with boto3's ``iot`` client in AWS's
shape, rendered per message, and delivered as properties to a paho-mqtt ``MQTTv5`` subscriber
of the embedded broker (an MQTT 3.1.1 subscriber gets the same payload, without them)."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

from tests.conftest import Running, root_api_user
from tests.integration.helpers import ADMIN, serving
from tests.integration.test_rules import aws_client, new_name
from tests.mqtt_helpers import Recorder, wait_until

HEADERS = {
    "payloadFormatIndicator": "UTF8_DATA",
    "contentType": "application/vnd.${topic(2)}+json",
    "responseTopic": "${topic(1)}/${topic(2)}/reply",
    "correlationData": "${cid}",
    "messageExpiry": "${ttl}",
    "userProperties": [
        {"key": "room", "value": "${topic(3)}"},
        {"key": "static", "value": "yes"},
        {"key": "static", "value": "twice"},
    ],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serving(tmp_path_factory.mktemp("republish") / "data") as lorafox:
        yield lorafox


@pytest.fixture(scope="module")
def login(server: Running) -> tuple[str, str]:
    return root_api_user(server.base_url, "republisher")


class V5Subscriber:
    """A paho ``MQTTv5`` client logged in to lorafox, keeping what it receives."""

    def __init__(self, port: int, topic_filter: str) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self.arrived = threading.Event()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        self.client.username_pw_set(*ADMIN)
        self.client.on_connect = lambda c, *_: c.subscribe(
            topic_filter, options=SubscribeOptions(qos=1)
        )
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10), "no SUBACK"

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.append(message)
        self.arrived.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_headers_reach_an_mqtt5_subscriber(server: Running, login: tuple[str, str]) -> None:
    base = "hdr" + uuid.uuid4().hex[:6]
    iot = aws_client(server, "iot", *login)
    name = new_name()
    iot.create_topic_rule(
        ruleName=name,
        topicRulePayload={
            "sql": f"SELECT temp FROM '{base}/+/+'",  # noqa: S608
            "awsIotSqlVersion": "2016-03-23",
            "actions": [
                {
                    "republish": {
                        "roleArn": "arn:aws:iam::123456789012:role/r",
                        "topic": f"out/{base}/${{topic(3)}}",
                        "qos": 1,
                        "headers": HEADERS,
                    }
                }
            ],
        },
    )
    assert server.mqtt_port is not None
    v5 = V5Subscriber(server.mqtt_port, f"out/{base}/#")
    v311 = Recorder("127.0.0.1", server.mqtt_port, f"out/{base}/#")
    cid = base64.b64encode(b"\x00request-7\xff").decode()
    try:
        aws_client(server, "iot-data", *login).publish(
            topic=f"{base}/plant/kitchen",
            qos=1,
            payload=orjson.dumps({"temp": 21, "cid": cid, "ttl": 3600}),
        )
        assert v5.arrived.wait(30)
        [plain] = v311.wait_for(f"out/{base}/kitchen", timeout=30)
    finally:
        v5.close()
        v311.close()
    [message] = v5.messages
    assert message.topic == f"out/{base}/kitchen"
    assert orjson.loads(message.payload) == {"temp": 21} == plain
    props: Any = message.properties
    assert props is not None
    assert props.PayloadFormatIndicator == 1
    assert props.ContentType == "application/vnd.plant+json"
    assert props.ResponseTopic == f"{base}/plant/reply"
    assert props.CorrelationData == b"\x00request-7\xff"
    assert 0 < props.MessageExpiryInterval <= 3600
    assert props.UserProperty == [("room", "kitchen"), ("static", "yes"), ("static", "twice")]
    [action] = iot.get_topic_rule(ruleName=name)["rule"]["actions"]
    assert action["republish"]["headers"] == HEADERS


def test_headers_left_empty_are_not_sent_and_a_bad_value_fails_the_action(
    server: Running, login: tuple[str, str]
) -> None:
    base = "hdr" + uuid.uuid4().hex[:6]
    name = new_name()
    with httpx.Client(base_url=server.base_url, auth=login, timeout=10) as http:
        made = http.post(
            "/api/v2/rules",
            json={
                "name": name,
                "sql": f"SELECT * FROM '{base}/in'",  # noqa: S608
                "awsIotSqlVersion": "2016-03-23",
                "actions": [
                    {
                        "republish": {
                            "roleArn": "r",
                            "topic": f"{base}/out",
                            "headers": {"correlationData": "${cid}", "messageExpiry": "${ttl}"},
                        }
                    }
                ],
                "errorAction": {"republish": {"roleArn": "r", "topic": f"{base}/errors"}},
            },
        )
        assert made.status_code == 201, made.text
        assert made.json()["actions"][0]["republish"]["headers"]["messageExpiry"] == "${ttl}"

        dry = http.post(
            "/api/v2/rules/test",
            json={
                "rule": name,
                "messages": [
                    {"topic": f"{base}/in", "payload": {"cid": "AAE=", "ttl": 5}},
                    {"topic": f"{base}/in", "payload": {"ttl": "soon"}},
                ],
            },
        ).json()["data"]
        assert dry[0]["actions"][0]["request"]["headers"] == {
            "correlationData": "AAE=",
            "messageExpiry": 5,
        }
        assert "messageExpiry 'soon'" in dry[1]["actions"][0]["error"]

        assert server.mqtt_port is not None
        v5 = V5Subscriber(server.mqtt_port, f"{base}/#")
        data = aws_client(server, "iot-data", *login)
        try:
            data.publish(topic=f"{base}/in", qos=1, payload=b'{"n": 1}')
            data.publish(topic=f"{base}/in", qos=1, payload=b'{"n": 2, "cid": "not base64!"}')

            def arrived() -> list[str] | None:
                topics = [m.topic for m in v5.messages]
                return topics if f"{base}/out" in topics and f"{base}/errors" in topics else None

            wait_until(arrived, timeout=30)
        finally:
            v5.close()
        [out] = [m for m in v5.messages if m.topic == f"{base}/out"]
        assert orjson.loads(out.payload) == {"n": 1}
        props: Any = out.properties
        assert props is not None
        # no expiry asked for; lorafox's own correlation id stands in for the empty one
        assert not hasattr(props, "MessageExpiryInterval")
        assert len(props.CorrelationData) == 8
        [error] = [orjson.loads(m.payload) for m in v5.messages if m.topic == f"{base}/errors"]
        [failure] = error["failures"]
        assert failure["failedAction"] == "RepublishAction"
        assert "correlationData must be base64" in failure["errorMessage"]


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({"payloadFormatIndicator": "UTF16"}, "neither UNSPECIFIED_BYTES nor UTF8_DATA"),
        ({"messageExpiry": "-1"}, "messageExpiry must be 0 to 4294967295 seconds"),
        ({"messageExpiry": "1h"}, "not a whole number of seconds"),
        ({"correlationData": "%%%"}, "correlationData must be base64"),
        ({"responseTopic": "a/+/b"}, "has a wildcard"),
        ({"contentType": "x" * 1025}, "longer than 1024 characters"),
        ({"retain": "true"}, "unknown fields: retain"),
        ({"userProperties": {"k": "v"}}, "userProperties must be a list"),
        ({"userProperties": [{"key": "k"}]}, "userProperties must be a string"),
        ({"contentType": "${"}, "republish.headers.contentType"),
        ("UTF8_DATA", "republish.headers must be an object"),
    ],
)
def test_bad_headers_are_refused_naming_what_is_wrong(
    server: Running, login: tuple[str, str], headers: Any, fragment: str
) -> None:
    with httpx.Client(base_url=server.base_url, auth=login, timeout=10) as http:
        answer = http.post(
            "/api/v2/rules",
            json={
                "name": new_name(),
                "sql": "SELECT * FROM 'a/b'",
                "actions": [{"republish": {"roleArn": "r", "topic": "c", "headers": headers}}],
            },
        )
    assert answer.status_code == 400, answer.text
    assert fragment in answer.json()["message"], answer.text
