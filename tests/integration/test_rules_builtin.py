"""``lorafox_downlinks``: the built-in Sigfox downlink path as a topic rule. Untouched, it
queues downlinks exactly as before and counts them; disabled, the built-in path stops and the
users' own rules take over; replaced, it becomes a rule like the others; its state outlives a
restart, and its statement follows the ``mqtt`` settings."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.conftest import Running, root_api_user
from tests.integration.helpers import ADMIN, error_code, group_with_a_device, serving
from tests.integration.test_rules import aws_client
from tests.mqtt_helpers import Recorder, wait_until

NAME = "lorafox_downlinks"
GOOD = b'{"downlinkData": "0102030405060708"}'


def _device(server: Running) -> str:
    with httpx.Client(base_url=server.base_url, auth=ADMIN, timeout=10) as http:
        [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
        suffix = uuid.uuid4().hex[:8]
        return group_with_a_device(http, root["id"], f"g{suffix}", f"d{suffix}")[2]


def _queued(server: Running, device: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{server.base_url}/api/v2/devices/{device}/downlinks", auth=ADMIN, timeout=10
    )
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def _rule(server: Running) -> dict[str, Any]:
    answer = httpx.get(f"{server.base_url}/api/v2/rules/{NAME}", auth=ADMIN, timeout=10)
    assert answer.status_code == 200, answer.text
    rule: dict[str, Any] = answer.json()
    return rule


def test_the_builtin_path_is_a_rule_that_counts_and_refuses_deletion(tmp_path: Path) -> None:
    with serving(tmp_path / "data") as server:
        rule = _rule(server)
        assert rule["sql"] == (
            "SELECT downlinkData AS downlinkData, topic(3) AS deviceId FROM 'sigfox/downlink/+'"
        )
        assert rule["awsIotSqlVersion"] == "2016-03-23"
        assert rule["actions"] == [
            {"downlink": {"deviceId": "${topic(3)}", "downlinkData": "${downlinkData}"}}
        ]
        assert rule["errorAction"] == {"republish": {"topic": "${topic()}/rejected", "qos": 1}}
        assert rule["ruleDisabled"] is False
        assert rule["metrics"]["matched"] == 0

        device = _device(server)
        login = root_api_user(server.base_url, "builtin")
        data = aws_client(server, "iot-data", *login)
        assert server.mqtt_port is not None
        rejected = f"sigfox/downlink/{device}/rejected"
        recorder = Recorder("127.0.0.1", server.mqtt_port, rejected)
        try:
            data.publish(topic=f"sigfox/downlink/{device}", qos=1, payload=GOOD)
            data.publish(topic=f"sigfox/downlink/{device}", qos=1, payload=b'{"downlinkData": 1}')
            [refusal] = recorder.wait_for(rejected, timeout=30)
        finally:
            recorder.close()
        # the refusal is the built-in one, unchanged
        assert set(refusal) == {"error", "field", "topic", "payload"}
        assert refusal["field"] == "downlinkData"
        assert [(d["data"], d["source"]) for d in _queued(server, device)] == [
            ("0102030405060708", "mqtt")
        ]
        metrics = _rule(server)["metrics"]
        assert (metrics["matched"], metrics["passed"]) == (2, 2)
        assert (metrics["actionSuccesses"], metrics["actionFailures"]) == (1, 1)
        [error] = metrics["lastErrors"]
        assert error["topic"] == f"sigfox/downlink/{device}"
        assert error["failedAction"] == "DownlinkAction"
        assert error["errorMessage"] == refusal["error"]
        prometheus = httpx.get(f"{server.base_url}/metrics", auth=ADMIN, timeout=10).text
        assert f'lorafox_rule_action_successes_total{{rule="{NAME}"}} 1.0' in prometheus

        iot = aws_client(server, "iot", *login)
        assert NAME in [r["ruleName"] for r in iot.list_topic_rules()["rules"]]
        assert iot.get_topic_rule(ruleName=NAME)["rule"]["sql"] == rule["sql"]
        with pytest.raises(ClientError) as refused:
            iot.delete_topic_rule(ruleName=NAME)
        assert error_code(refused) == "InvalidRequestException"
        assert "cannot be deleted" in str(refused.value)
        with pytest.raises(ClientError) as taken:
            iot.create_topic_rule(
                ruleName=NAME, topicRulePayload={"sql": "SELECT * FROM 'a'", "actions": []}
            )
        assert error_code(taken) == "ResourceAlreadyExistsException"
        gone = httpx.delete(f"{server.base_url}/api/v2/rules/{NAME}", auth=ADMIN, timeout=10)
        assert gone.status_code == 400 and "disable it" in gone.json()["message"]


def test_disabled_the_builtin_path_stops_and_user_rules_take_over(tmp_path: Path) -> None:
    with serving(tmp_path / "data") as server:
        device = _device(server)
        login = root_api_user(server.base_url, "takeover")
        iot = aws_client(server, "iot", *login)
        data = aws_client(server, "iot-data", *login)
        iot.disable_topic_rule(ruleName=NAME)
        assert _rule(server)["ruleDisabled"] is True
        # an HTTPS publish answers once the downlink handlers are done: nothing was queued
        data.publish(topic=f"sigfox/downlink/{device}", qos=1, payload=GOOD)
        assert _queued(server, device) == []
        assert _rule(server)["metrics"]["matched"] == 0

        with httpx.Client(base_url=server.base_url, auth=login, timeout=10) as http:
            made = http.post(
                "/api/v2/rules",
                json={
                    "name": "my_downlinks",
                    "sql": "SELECT * FROM 'sigfox/downlink/+' WHERE startswith(d, '0A')",
                    "awsIotSqlVersion": "2016-03-23",
                    "actions": [{"downlink": {"deviceId": "${topic(3)}", "downlinkData": "${d}"}}],
                },
            )
            assert made.status_code == 201, made.text
        data.publish(topic=f"sigfox/downlink/{device}", qos=1, payload=b'{"d": "0A0B0C0D0E0F0001"}')
        data.publish(topic=f"sigfox/downlink/{device}", qos=1, payload=b'{"d": "FF0B0C0D0E0F0001"}')
        queued = wait_until(lambda: _queued(server, device) or None, timeout=30)
        assert [(d["data"], d["source"]) for d in queued] == [
            ("0a0b0c0d0e0f0001", "rule:my_downlinks")
        ]

    # a restart keeps it disabled
    with serving(tmp_path / "data") as server:
        assert _rule(server)["ruleDisabled"] is True
        iot = aws_client(server, "iot", *root_api_user(server.base_url, "again"))
        iot.enable_topic_rule(ruleName=NAME)
        data = aws_client(server, "iot-data", *root_api_user(server.base_url, "publisher"))
        device = _device(server)
        data.publish(topic=f"sigfox/downlink/{device}", qos=1, payload=GOOD)
        assert [d["source"] for d in _queued(server, device)] == ["mqtt"]


def test_a_replaced_builtin_rule_runs_as_a_rule_until_put_back(tmp_path: Path) -> None:
    with serving(tmp_path / "data") as server:
        device = _device(server)
        data = aws_client(server, "iot-data", *root_api_user(server.base_url, "replacer"))
        original = _rule(server)
        payload = {k: original[k] for k in ("sql", "awsIotSqlVersion", "actions", "errorAction")}
        with httpx.Client(base_url=server.base_url, auth=ADMIN, timeout=10) as http:
            changed = {
                **payload,
                "sql": payload["sql"] + " WHERE downlinkData <> '0000000000000000'",
            }
            assert http.put(f"/api/v2/rules/{NAME}", json=changed).status_code == 200
            data.publish(
                topic=f"sigfox/downlink/{device}",
                qos=1,
                payload=b'{"downlinkData": "0000000000000000"}',
            )
            data.publish(topic=f"sigfox/downlink/{device}", qos=1, payload=GOOD)
            queued = wait_until(lambda: _queued(server, device) or None, timeout=30)
            assert [(d["data"], d["source"]) for d in queued] == [
                ("0102030405060708", f"rule:{NAME}")
            ]
            # its own statement again: the built-in path, answering the HTTPS publish in line
            assert http.put(f"/api/v2/rules/{NAME}", json=payload).status_code == 200
            data.publish(
                topic=f"sigfox/downlink/{device}",
                qos=1,
                payload=b'{"downlinkData": "1111111111111111"}',
            )
            assert [d["source"] for d in _queued(server, device)] == [f"rule:{NAME}", "mqtt"]
            # a replace that only disables it keeps it built in
            assert http.put(f"/api/v2/rules/{NAME}", json={**payload, "ruleDisabled": True}).json()[
                "ruleDisabled"
            ]
            data.publish(
                topic=f"sigfox/downlink/{device}",
                qos=1,
                payload=b'{"downlinkData": "2222222222222222"}',
            )
            assert len(_queued(server, device)) == 2


def test_its_statement_follows_the_mqtt_settings(tmp_path: Path) -> None:
    with serving(tmp_path / "data") as server:
        unsigned = httpx.post(f"{server.base_url}/rules/{NAME}/disable", auth=ADMIN, timeout=10)
        assert unsigned.status_code == 403, unsigned.text
        assert _rule(server)["ruleDisabled"] is False
    settings = {
        "downlink_topic": "devices/+/down",
        "downlink_field": "hex",
        "downlink_device": "topic(2)",
    }
    with serving(tmp_path / "data", mqtt=settings) as server:
        rule = _rule(server)
        assert (
            rule["sql"] == "SELECT hex AS downlinkData, topic(2) AS deviceId FROM 'devices/+/down'"
        )
        assert rule["actions"] == [
            {"downlink": {"deviceId": "${topic(2)}", "downlinkData": "${hex}"}}
        ]
        device = _device(server)
        data = aws_client(server, "iot-data", *root_api_user(server.base_url, "p"))
        data.publish(topic=f"devices/{device}/down", qos=1, payload=b'{"hex": "0102030405060708"}')
        assert [d["data"] for d in _queued(server, device)] == ["0102030405060708"]
