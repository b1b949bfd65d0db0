"""Topic rules over real sockets: boto3's ``iot`` client manages them, ``iot-data`` publishes,
paho publishes, and the two AWS write-ups' rules, exactly as they are written, fill tables that
boto3's DynamoDB client reads back."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from paho.mqtt.enums import CallbackAPIVersion

from lorafox.ports.rules import HttpRequest
from lorafox.store.sql.store import SqlStore
from tests.conftest import Running, root_api_user, store_url
from tests.integration.helpers import (
    ADMIN,
    BOTO_CONFIG,
    SIGFOX,
    boto3_client,
    error_code,
    error_message,
    group_with_a_device,
    serving,
    table_keys,
)
from tests.mqtt_helpers import Recorder, wait_until

SIGFOX_SQL = (
    "SELECT downlinkData as downlinkData, topic(3) as id, timestamp() as timestamp, "
    "principal() as sender FROM 'sigfox/downlink/+'\n"
)
"""The AWS Sigfox template's rule, with its newline and no SQL version."""

LORA_ACTION = {
    "dynamoDB": {
        "tableName": "LoraMessages",
        "roleArn": "arn:aws:iam::123456789012:role/lora",
        "hashKeyField": "DeviceID",
        "hashKeyValue": "${topic(2)}/${topic(3)}",
        "rangeKeyField": "Timestamp",
        "rangeKeyValue": "${timestamp()}",
        "rangeKeyType": "STRING",
    }
}
"""The AWS LoRa write-up's action: the payload goes in the default ``payload`` column."""


def aws_client(server: Running, service: str, login: str, password: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.base_url,
        region_name="eu-west-1",
        aws_access_key_id=login,
        aws_secret_access_key=password,
        config=BOTO_CONFIG,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serving(tmp_path_factory.mktemp("rules") / "data") as lorafox:
        yield lorafox


@pytest.fixture(scope="module")
def login(server: Running) -> tuple[str, str]:
    return root_api_user(server.base_url, "rules")


@pytest.fixture(scope="module")
def iot(server: Running, login: tuple[str, str]) -> Any:
    return aws_client(server, "iot", *login)


def new_name() -> str:
    return "r_" + uuid.uuid4().hex[:10]


def test_boto3_manages_rules(iot: Any) -> None:
    name = new_name()
    payload = {"sql": SIGFOX_SQL, "actions": [], "description": "d"}
    iot.create_topic_rule(ruleName=name, topicRulePayload=payload)
    got = iot.get_topic_rule(ruleName=name)
    assert got["ruleArn"] == f"arn:aws:iot:eu-west-1:000000000000:rule/{name}"
    rule = got["rule"]
    assert rule["ruleName"] == name and rule["sql"] == SIGFOX_SQL
    assert rule["ruleDisabled"] is False and rule["description"] == "d"
    assert "awsIotSqlVersion" not in rule  # none was given: it runs 2015-10-08
    assert rule["createdAt"].year >= 2024

    with pytest.raises(ClientError) as caught:
        iot.create_topic_rule(ruleName=name, topicRulePayload=payload)
    assert error_code(caught) == "ResourceAlreadyExistsException"
    assert caught.value.response["resourceArn"].startswith("arn:aws:iot:eu-west-1:")

    listed = iot.list_topic_rules(topic="sigfox/downlink/+")["rules"]
    assert [r["ruleName"] for r in listed if r["ruleName"] == name] == [name]
    assert listed[0]["topicPattern"] == "sigfox/downlink/+"

    iot.replace_topic_rule(
        ruleName=name,
        topicRulePayload={
            "sql": "SELECT * FROM 'a/b'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [],
        },
    )
    rule = iot.get_topic_rule(ruleName=name)["rule"]
    assert rule["sql"] == "SELECT * FROM 'a/b'" and rule["awsIotSqlVersion"] == "2016-03-23"

    iot.disable_topic_rule(ruleName=name)
    assert iot.get_topic_rule(ruleName=name)["rule"]["ruleDisabled"] is True
    assert name in [r["ruleName"] for r in iot.list_topic_rules(ruleDisabled=True)["rules"]]
    assert name not in [r["ruleName"] for r in iot.list_topic_rules(ruleDisabled=False)["rules"]]
    iot.enable_topic_rule(ruleName=name)
    assert iot.get_topic_rule(ruleName=name)["rule"]["ruleDisabled"] is False

    iot.delete_topic_rule(ruleName=name)
    with pytest.raises(ClientError) as caught:
        iot.get_topic_rule(ruleName=name)
    assert error_code(caught) == "UnauthorizedException"  # what AWS answers for a missing rule
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401


def test_list_pages(iot: Any) -> None:
    names = sorted(new_name() for _ in range(3))
    for name in names:
        iot.create_topic_rule(
            ruleName=name, topicRulePayload={"sql": "SELECT * FROM 'paging/x'", "actions": []}
        )
    seen: list[str] = []
    token: str | None = None
    while True:
        page = iot.list_topic_rules(
            topic="paging/x", maxResults=2, **({"nextToken": token} if token else {})
        )
        seen += [r["ruleName"] for r in page["rules"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == names


@pytest.mark.parametrize(
    ("name", "payload", "code", "fragment"),
    [
        ("t-r", {"sql": "SELECT * FROM 'a'", "actions": []}, "InvalidRequestException", "ruleName"),
        ("x" * 129, {"sql": "SELECT * FROM 'a'", "actions": []}, "InvalidRequestException", "128"),
        (
            "bad_sql",
            {"sql": "SELECT * FROM", "actions": []},
            "SqlParseException",
            "line 1, column 14",
        ),
        (
            "lambda_rule",
            {"sql": "SELECT aws_lambda('arn', *) FROM 'a'", "actions": []},
            "SqlParseException",
            "AWS Lambda",
        ),
        (
            "v2016_only",
            {"sql": "SELECT isUndefined(a) FROM 'a'", "actions": []},
            "SqlParseException",
            "2016-03-23",
        ),
        (
            "sqs_rule",
            {"sql": "SELECT * FROM 'a'", "actions": [{"sqs": {"roleArn": "r", "queueUrl": "q"}}]},
            "InvalidRequestException",
            "AWS service",
        ),
    ],
)
def test_refusals_in_aws_terms(
    iot: Any, name: str, payload: dict[str, Any], code: str, fragment: str
) -> None:
    with pytest.raises(ClientError) as caught:
        iot.create_topic_rule(ruleName=name, topicRulePayload=payload)
    assert error_code(caught) == code
    assert fragment in error_message(caught)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_wrong_secret_is_refused(server: Running, login: tuple[str, str]) -> None:
    client = aws_client(server, "iot", login[0], "wrong")
    with pytest.raises(ClientError) as caught:
        client.list_topic_rules()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_the_aws_sigfox_rule_fills_its_dynamodbv2_table_from_a_paho_publish(
    server: Running, login: tuple[str, str], iot: Any
) -> None:
    table = "SigfoxDownlinks_" + uuid.uuid4().hex[:8]
    dynamodb = boto3_client(server, *login)
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", **table_keys(id="S"))
    iot.create_topic_rule(
        ruleName=new_name(),
        topicRulePayload={
            "sql": SIGFOX_SQL,
            "actions": [
                {
                    "dynamoDBv2": {
                        "roleArn": "arn:aws:iam::1:role/r",
                        "putItem": {"tableName": table},
                    }
                }
            ],
        },
    )
    device = uuid.uuid4().hex[:6].upper()
    assert server.mqtt_port is not None
    client = Recorder("127.0.0.1", server.mqtt_port, "none/#", username=login[0], password=login[1])
    try:
        client.publish(f"sigfox/downlink/{device}", b'{"downlinkData": "0102030405060708"}')

        def stored() -> dict[str, Any] | None:
            item: dict[str, Any] | None = dynamodb.get_item(
                TableName=table, Key={"id": {"S": device}}
            ).get("Item")
            return item

        item = wait_until(stored, timeout=30)
    finally:
        client.close()
    assert item["downlinkData"] == {"S": "0102030405060708"}
    assert item["sender"] == {"S": "rules"}
    assert int(item["timestamp"]["N"]) > 1_700_000_000_000


def test_iot_data_publish_republish_and_the_error_action(
    server: Running, login: tuple[str, str], iot: Any
) -> None:
    base = "plant/" + uuid.uuid4().hex[:6]
    iot.create_topic_rule(
        ruleName=new_name(),
        topicRulePayload={
            "sql": f"SELECT temp, topic(3) AS room FROM '{base}/+' WHERE temp > 30",  # noqa: S608
            "awsIotSqlVersion": "2016-03-23",
            "actions": [
                {"republish": {"roleArn": "r", "topic": f"{base}/alerts/${{topic(3)}}", "qos": 1}},
                {"dynamoDBv2": {"roleArn": "r", "putItem": {"tableName": "NoSuchTable"}}},
            ],
            "errorAction": {"republish": {"roleArn": "r", "topic": f"{base}/errors"}},
        },
    )
    assert server.mqtt_port is not None
    recorder = Recorder("127.0.0.1", server.mqtt_port, f"{base}/alerts/#", f"{base}/errors")
    data = aws_client(server, "iot-data", *login)
    try:
        data.publish(topic=f"{base}/kitchen", qos=1, payload=b'{"temp": 31}')
        data.publish(topic=f"{base}/hall", qos=0, payload=b'{"temp": 20}')
        [alert] = recorder.wait_for(f"{base}/alerts/kitchen", timeout=30)
        [error] = recorder.wait_for(f"{base}/errors", timeout=30)
    finally:
        recorder.close()
    assert alert == {"temp": 31, "room": "kitchen"}
    assert error["topic"] == f"{base}/kitchen" and error["clientId"] == "n/a"
    assert orjson.loads(base64.b64decode(error["base64OriginalPayload"])) == {"temp": 31}
    assert error["failures"] == [
        {
            "failedAction": "DynamoDBv2Action",
            "failedResource": "NoSuchTable",
            "errorMessage": error["failures"][0]["errorMessage"],
        }
    ]
    assert "not found" in error["failures"][0]["errorMessage"].lower()
    assert error["ruleName"].startswith("r_")


def test_iot_data_refuses_what_the_caller_may_not_publish(
    server: Running, login: tuple[str, str]
) -> None:
    data = aws_client(server, "iot-data", *login)
    with pytest.raises(ClientError) as caught:
        data.publish(topic="sigfox/uplink/1234", payload=b"{}")  # only lorafox publishes there
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.mosquitto
def test_the_aws_lora_rule_fills_its_dynamodb_table_through_an_external_broker(
    tmp_path: Path, mosquitto: tuple[str, int]
) -> None:
    with serving(tmp_path / "data", mqtt_url=f"mqtt://{mosquitto[0]}:{mosquitto[1]}") as server:
        login = root_api_user(server.base_url, "lora")
        dynamodb = boto3_client(server, *login)
        dynamodb.create_table(
            TableName="LoraMessages",
            BillingMode="PAY_PER_REQUEST",
            **table_keys(DeviceID="S", Timestamp="S"),
        )
        aws_client(server, "iot", *login).create_topic_rule(
            ruleName="LoraHistory",
            topicRulePayload={"sql": "SELECT * FROM 'lora/#'", "actions": [LORA_ACTION]},
        )
        app, dev = uuid.uuid4().hex[:16].upper(), uuid.uuid4().hex[:16].upper()
        client = Recorder(*mosquitto, "none/#")
        try:

            def history() -> list[dict[str, Any]]:
                client.publish(f"lora/{app}/{dev}", b'{"port2_bytes": [1, 2, 3]}')
                items: list[dict[str, Any]] = dynamodb.query(
                    TableName="LoraMessages",
                    KeyConditionExpression="DeviceID = :d",
                    ExpressionAttributeValues={":d": {"S": f"{app}/{dev}"}},
                )["Items"]
                return items

            items = wait_until(
                history, timeout=30, interval=0.3
            )  # until lorafox's subscription is made
        finally:
            client.close()
    item = items[0]
    assert item["payload"] == {"M": {"port2_bytes": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]}}}
    assert item["Timestamp"]["S"].isdigit()


def test_the_rest_api_counters_and_the_dry_run(server: Running, login: tuple[str, str]) -> None:
    name = new_name()
    base = "rest/" + uuid.uuid4().hex[:6]
    with httpx.Client(base_url=server.base_url, auth=login, timeout=10) as http:
        made = http.post(
            "/api/v2/rules",
            json={
                "name": name,
                "sql": f"SELECT VALUE temp * 2 FROM '{base}/+' WHERE temp > 0",  # noqa: S608
                "awsIotSqlVersion": "2016-03-23",
                "actions": [
                    {"republish": {"roleArn": "r", "topic": f"{base}/double/${{topic(2)}}"}}
                ],
            },
        )
        assert made.status_code == 201, made.text
        assert made.json()["name"] == name
        assert (
            http.post("/api/v2/rules", json={"name": name, "sql": "SELECT * FROM 'a'"}).status_code
            == 409
        )
        bad = http.post("/api/v2/rules", json={"name": "x", "sql": "SELECT FROM 'a'"})
        assert bad.status_code == 400 and "line 1, column 13" in bad.text

        dry = http.post(
            "/api/v2/rules/test",
            json={
                "rule": name,
                "messages": [
                    {"topic": f"{base}/a", "payload": {"temp": 21}},
                    {"topic": f"{base}/b", "payload": {"temp": -1}},
                    {"topic": "elsewhere", "payload": {}},
                ],
            },
        )
        assert dry.status_code == 200, dry.text
        first, second, third = dry.json()["data"]
        assert first["passed"] and first["output"] == 42
        assert first["actions"] == [
            {
                "action": "republish",
                "resource": f"{base}/double/{base.split('/')[1]}",
                "request": {
                    "topic": f"{base}/double/{base.split('/')[1]}",
                    "qos": 0,
                    "payload": {"base64": base64.b64encode(b"42").decode()},
                },
            }
        ]
        assert second == {"topic": f"{base}/b", "matched": True, "passed": False}
        assert third == {"topic": "elsewhere", "matched": False}
        inline = http.post(
            "/api/v2/rules/test",
            json={
                "rule": {
                    "sql": "SELECT encode(*, 'base64') AS e FROM '#'",
                    "awsIotSqlVersion": "2016-03-23",
                },
                "messages": [{"topic": "t", "payloadBase64": "AAE="}],
            },
        )
        assert inline.json()["data"][0]["output"] == {"e": "AAE="}

        data = aws_client(server, "iot-data", *login)
        data.publish(topic=f"{base}/x", payload=b'{"temp": 5}')

        def counted() -> dict[str, Any] | None:
            metrics: dict[str, Any] = http.get(f"/api/v2/rules/{name}").json()["metrics"]
            return metrics if metrics["actionSuccesses"] else None

        metrics = wait_until(counted, timeout=30)
        assert metrics["matched"] == 1 and metrics["passed"] == 1
        prometheus = http.get("/metrics", auth=ADMIN).text
        assert f'lorafox_rule_matched_total{{rule="{name}"}} 1.0' in prometheus
        assert name in [r["name"] for r in http.get("/api/v2/rules").json()["data"]]
        assert http.delete(f"/api/v2/rules/{name}").status_code == 204
        assert http.get(f"/api/v2/rules/{name}").status_code == 404


def test_basic_auth_publish_sourceip_and_principal(
    server: Running, login: tuple[str, str], iot: Any
) -> None:
    base = "basic/" + uuid.uuid4().hex[:6]
    iot.create_topic_rule(
        ruleName=new_name(),
        topicRulePayload={
            "sql": "SELECT sourceip() AS ip, principal() AS who, clientid() AS c, n "  # noqa: S608
            f"FROM '{base}/in'",
            "actions": [{"republish": {"roleArn": "r", "topic": f"{base}/out"}}],
        },
    )
    assert server.mqtt_port is not None
    recorder = Recorder("127.0.0.1", server.mqtt_port, f"{base}/out")
    try:
        answer = httpx.post(
            f"{server.base_url}/topics/{base.replace('/', '%2F')}%2Fin?qos=1",
            content=b'{"n": 1}',
            auth=login,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        [out] = recorder.wait_for(f"{base}/out", timeout=30)
    finally:
        recorder.close()
    assert out == {"ip": "127.0.0.1", "who": "rules", "c": "n/a", "n": 1}


def test_an_https_publish_on_the_downlink_topic_queues_a_downlink_or_is_rejected(
    server: Running, login: tuple[str, str]
) -> None:
    with httpx.Client(base_url=server.base_url, auth=ADMIN, timeout=10) as http:
        [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
        _, _, device = group_with_a_device(http, root["id"], new_name(), new_name())
    assert server.mqtt_port is not None
    rejected = f"sigfox/downlink/{device}/rejected"
    user, password = ADMIN
    recorder = Recorder("127.0.0.1", server.mqtt_port, rejected, username=user, password=password)
    data = aws_client(server, "iot-data", *login)
    try:
        data.publish(topic=f"sigfox/downlink/{device}", qos=1, payload=b'{"downlinkData": "0102"}')
        [refusal] = recorder.wait_for(rejected, timeout=30)
        good = b'{"downlinkData": "0102030405060708"}'
        data.publish(topic=f"sigfox/downlink/{device}", qos=1, payload=good)
    finally:
        recorder.close()
    assert refusal["field"] == "downlinkData" and refusal["payload"] == '{"downlinkData": "0102"}'
    queued = httpx.get(
        f"{server.base_url}/api/v2/devices/{device}/downlinks", auth=ADMIN, timeout=10
    ).json()["data"]
    assert [d["data"] for d in queued] == ["0102030405060708"]


def test_the_store_action_writes_a_message_in_the_device_history(
    server: Running, login: tuple[str, str]
) -> None:
    base = "meters/" + uuid.uuid4().hex[:6]
    with httpx.Client(base_url=server.base_url, auth=ADMIN, timeout=10) as http:
        [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
        _, _, device = group_with_a_device(http, root["id"], new_name(), new_name())
    rule = {
        "name": new_name(),  # lorafox's own actions: boto3 knows only AWS's
        "sql": f"SELECT v, n FROM '{base}/+'",  # noqa: S608
        "actions": [{"store": {"deviceId": "${topic(3)}", "data": "${hex}", "seqNumber": "${n}"}}],
        "errorAction": {"republish": {"roleArn": "r", "topic": f"{base}-errors"}},
    }
    bad = {**rule, "actions": [{"store": {"data": "${hex}"}}]}
    refused = httpx.post(f"{server.base_url}/api/v2/rules", json=bad, auth=login, timeout=10)
    assert refused.status_code == 400 and "store.deviceId" in str(refused.json())
    made = httpx.post(f"{server.base_url}/api/v2/rules", json=rule, auth=login, timeout=10)
    assert made.status_code == 201, made.text
    assert server.mqtt_port is not None
    user, password = ADMIN
    recorder = Recorder(
        "127.0.0.1",
        server.mqtt_port,
        f"sigfox/uplink/{device}",
        f"{base}-errors",
        username=user,
        password=password,
    )
    data = aws_client(server, "iot-data", *login)
    try:
        data.publish(topic=f"{base}/{device}", payload=b'{"v": 3, "n": 7, "hex": "0A0B"}')
        [published] = recorder.wait_for(f"sigfox/uplink/{device}", timeout=30)
        data.publish(topic=f"{base}/FFFFFFF", payload=b'{"v": 1, "n": 1, "hex": ""}')
        data.publish(topic=f"{base}/{device}", payload=b'{"v": 1, "n": 2, "hex": "zz"}')
        errors = recorder.wait_for(f"{base}-errors", count=2, timeout=30)
    finally:
        recorder.close()
    assert published["data"] == "0a0b" and published["seqNumber"] == 7
    assert published["rule"]["output"] == {"v": 3, "n": 7}
    [message] = httpx.get(
        f"{server.base_url}/api/v2/devices/{device}/messages", auth=ADMIN, timeout=10
    ).json()["data"]
    assert message["data"] == "0a0b" and message["seqNumber"] == 7
    failures = sorted(e["failures"][0]["errorMessage"] for e in errors)
    assert {e["failures"][0]["failedAction"] for e in errors} == {"StoreAction"}
    assert "not found" in failures[0] and "hex" in failures[1]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/rules/not_json", b"{nope", 400, "InvalidRequestException"),
        ("POST", "/rules/list_of", b"[1, 2]", 400, "InvalidRequestException"),
        ("PUT", "/rules/x", b"{}", 405, "MethodNotAllowedException"),
        ("POST", "/rules", b"{}", 405, "MethodNotAllowedException"),
        ("GET", "/rules/x/enable", b"", 404, "ResourceNotFoundException"),
        ("GET", "/rules?maxResults=0", b"", 400, "InvalidRequestException"),
        ("GET", "/rules?maxResults=x", b"", 400, "InvalidRequestException"),
        ("POST", "/topics/a%2F%23", b"{}", 400, "InvalidRequestException"),
        ("POST", "/topics/a?qos=2", b"{}", 400, "InvalidRequestException"),
        ("GET", "/topics/a", b"", 405, "MethodNotAllowedException"),
    ],
)
def test_malformed_requests_get_aws_errors(
    server: Running,
    login: tuple[str, str],
    method: str,
    path: str,
    body: bytes,
    status: int,
    code: str,
) -> None:
    from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
    from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
    from botocore.credentials import Credentials  # type: ignore[import-untyped]

    service = "iotdata" if path.startswith("/topics/") else "iot"
    request = AWSRequest(method=method, url=server.base_url + path, data=body)
    SigV4Auth(Credentials(*login), service, "eu-west-1").add_auth(request)
    answer = httpx.request(
        method, request.url, content=body, headers=dict(request.headers.items()), timeout=10
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["x-amzn-errortype"] == code
    assert answer.json()["message"]


def test_a_request_signed_for_another_service_is_refused(
    server: Running, login: tuple[str, str]
) -> None:
    client = aws_client(server, "iot", *login)
    client._request_signer._signing_name = "iotdata"  # signed for the data plane
    with pytest.raises(ClientError) as caught:
        client.list_topic_rules()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "iot" in error_message(caught)


def test_get_dynamodb_reads_a_lorafox_table(
    server: Running, login: tuple[str, str], iot: Any
) -> None:
    table = "Limits_" + uuid.uuid4().hex[:8]
    base = "limits/" + uuid.uuid4().hex[:6]
    dynamodb = boto3_client(server, *login)
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", **table_keys(room="S"))
    dynamodb.put_item(TableName=table, Item={"room": {"S": "kitchen"}, "max": {"N": "25"}})
    iot.create_topic_rule(
        ruleName=new_name(),
        topicRulePayload={
            "sql": f"SET @limit = get_dynamodb('{table}', 'room', topic(3), 'arn:r') "  # noqa: S608
            f"SELECT temp, @limit.max AS max FROM '{base}/+' WHERE temp > @limit.max",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"republish": {"roleArn": "r", "topic": f"{base}/over/${{topic(3)}}"}}],
        },
    )
    assert server.mqtt_port is not None
    recorder = Recorder("127.0.0.1", server.mqtt_port, f"{base}/over/#")
    data = aws_client(server, "iot-data", *login)
    try:
        data.publish(topic=f"{base}/kitchen", payload=b'{"temp": 20}')
        data.publish(topic=f"{base}/kitchen", payload=b'{"temp": 26}')
        assert recorder.wait_for(f"{base}/over/kitchen", timeout=30) == [{"temp": 26, "max": 25}]
    finally:
        recorder.close()


def test_rules_see_the_uplinks_lorafox_publishes_and_the_dry_run_replays_them(
    server: Running, login: tuple[str, str], iot: Any
) -> None:
    # no leading zero: lorafox publishes a device id as Sigfox writes it, without them
    device = "A" + uuid.uuid4().hex[:6].upper()
    sql = "SELECT device, data, seqNumber FROM 'sigfox/uplink/+' WHERE seqNumber > 1"
    name = new_name()
    iot.create_topic_rule(
        ruleName=name,
        topicRulePayload={
            "sql": sql,
            "actions": [{"republish": {"roleArn": "r", "topic": "copies/${device}"}}],
        },
    )
    assert server.mqtt_port is not None
    recorder = Recorder("127.0.0.1", server.mqtt_port, f"copies/{device}")
    try:
        for seq in (1, 2):
            answer = httpx.post(
                f"{server.base_url}/sigfox/uplink",
                json={
                    "device": device,
                    "time": 1_700_000_000 + seq,
                    "data": "0a0b",
                    "seqNumber": seq,
                },
                auth=SIGFOX,
                timeout=10,
            )
            assert answer.status_code in (200, 204), answer.text
        assert recorder.wait_for(f"copies/{device}", timeout=30) == [
            {"device": device, "data": "0a0b", "seqNumber": 2}
        ]
    finally:
        recorder.close()
    dry = httpx.post(
        f"{server.base_url}/api/v2/rules/test",
        json={"rule": name, "device": device, "last": 5},
        auth=login,
        timeout=10,
    )
    assert dry.status_code == 200, dry.text
    first, second = dry.json()["data"]
    assert first["topic"] == f"sigfox/uplink/{device}" and first["passed"] is False
    assert second["output"] == {"device": device, "data": "0a0b", "seqNumber": 2}
    none = httpx.post(
        f"{server.base_url}/api/v2/rules/test", json={"rule": name}, auth=login, timeout=10
    )
    assert none.status_code == 400


def test_overlapping_filters_see_a_client_message_once_each(
    server: Running, login: tuple[str, str], iot: Any
) -> None:
    base = "ov" + uuid.uuid4().hex[:6]
    names = [new_name(), new_name()]
    for name, topic_filter in zip(names, (f"{base}/+", f"{base}/#"), strict=True):
        iot.create_topic_rule(
            ruleName=name,
            topicRulePayload={"sql": f"SELECT * FROM '{topic_filter}'", "actions": []},  # noqa: S608
        )
    assert server.mqtt_port is not None
    client = Recorder("127.0.0.1", server.mqtt_port, "none/#", username=login[0], password=login[1])
    try:
        client.publish(f"{base}/x", b"{}")
        client.publish(base, b"{}")  # AWS's '#' does not match the parent level

        def counts() -> list[int] | None:
            with httpx.Client(base_url=server.base_url, auth=login, timeout=10) as http:
                found = [http.get(f"/api/v2/rules/{n}").json()["metrics"]["matched"] for n in names]
            return found if all(found) else None

        assert wait_until(counts, timeout=30) == [1, 1]
        iot.delete_topic_rule(ruleName=names[0])
        client.publish(f"{base}/y", b"{}")
        with httpx.Client(base_url=server.base_url, auth=login, timeout=10) as http:
            wait_until(
                lambda: http.get(f"/api/v2/rules/{names[1]}").json()["metrics"]["matched"] == 2,
                timeout=30,
            )
    finally:
        client.close()


def test_http_actions_post_and_a_restart_resends_what_was_kept(tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[tuple[str, bytes, str | None]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((self.path, body, self.headers.get("x-rule")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{hook.server_address[1]}/hooks/"
    data_dir = tmp_path / "data"
    try:
        with serving(data_dir, rules={"http_allowed_urls": [url]}) as server:
            login = root_api_user(server.base_url, "hooks")
            aws_client(server, "iot", *login).create_topic_rule(
                ruleName="Hook",
                topicRulePayload={
                    "sql": "SELECT n FROM 'hook/+'",
                    "actions": [
                        {
                            "http": {
                                "url": url + "${topic(2)}",
                                "headers": [{"key": "x-rule", "value": "Hook"}],
                            }
                        }
                    ],
                },
            )
            aws_client(server, "iot-data", *login).publish(topic="hook/a", payload=b'{"n": 1}')
            wait_until(lambda: received, timeout=30)
        assert received == [("/hooks/a", b'{"n":1}', "Hook")]
        asyncio.run(_keep(data_dir, HttpRequest("Hook", url + "left", {}, b"{}")))
        with serving(data_dir, rules={"http_allowed_urls": [url]}):
            wait_until(lambda: len(received) == 2, timeout=30)
        assert received[1][:2] == ("/hooks/left", b"{}")
    finally:
        hook.shutdown()


async def _keep(data_dir: Path, request: HttpRequest) -> None:
    """What a run killed in the middle of a POST leaves in the outbox (its claim lapsed)."""
    store = await SqlStore.open(store_url(data_dir))
    try:
        await store.rule_http.keep(request, "a run killed before", until=0)
    finally:
        await store.close()


def test_clientid_and_sourceip_of_an_mqtt_client(
    server: Running, login: tuple[str, str], iot: Any
) -> None:
    base = "cid" + uuid.uuid4().hex[:6]
    iot.create_topic_rule(
        ruleName=new_name(),
        topicRulePayload={
            "sql": f"SELECT clientid() AS c, sourceip() AS ip, principal() AS p FROM '{base}/in'",  # noqa: S608
            "actions": [{"republish": {"roleArn": "r", "topic": f"{base}/out"}}],
        },
    )
    assert server.mqtt_port is not None
    recorder = Recorder(
        "127.0.0.1", server.mqtt_port, f"{base}/out", username=login[0], password=login[1]
    )
    device = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="meter-42")
    device.username_pw_set(*login)
    device.connect("127.0.0.1", server.mqtt_port)
    device.loop_start()
    try:
        device.publish(f"{base}/in", b"{}", qos=1).wait_for_publish(10)
        [out] = recorder.wait_for(f"{base}/out", timeout=30)
    finally:
        device.loop_stop()
        device.disconnect()
        recorder.close()
    assert out == {"c": "meter-42", "ip": "127.0.0.1", "p": "rules"}
