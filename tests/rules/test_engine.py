"""The rules engine with fake ports: the two AWS write-ups' rules, templates, actions, the
error action, group visibility, the bounded queue, the counters."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from lorafox.domain.rules import TopicRule
from lorafox.errors import NotFound
from lorafox.ports.bus import PublishProperties
from lorafox.rules.actions import ActionRunner, attribute_value, compile_action
from lorafox.rules.compiled import rule_from_payload
from lorafox.rules.engine import BusMessage, RulesEngine
from lorafox.rules.errors import RuleInvalid, SqlParseError
from lorafox.rules.sql import NO_MATCH, MessageContext, compile_statement
from lorafox.rules.templates import compile_template
from lorafox.tables.errors import ResourceNotFoundException

ROOT = "/root/"
SIGFOX_SQL = (
    "SELECT downlinkData as downlinkData, topic(3) as id, timestamp() as timestamp, "
    "principal() as sender FROM 'sigfox/downlink/+'\n"
)


class Tables:
    def __init__(self, missing: tuple[str, ...] = ()) -> None:
        self.writes: list[tuple[str, str, dict[str, Any]]] = []
        self.missing = missing

    async def write(self, group_path: str, operation: str, params: Mapping[str, Any]) -> None:
        if params["TableName"] in self.missing:
            raise ResourceNotFoundException()
        self.writes.append((group_path, operation, dict(params)))

    async def read(
        self, group_path: str, table: str, key: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        if table in self.missing:
            raise ResourceNotFoundException()
        if key == {"device": {"S": "1A"}}:
            return {"device": {"S": "1A"}, "limit": {"N": "30"}, "owner": {"M": {"n": {"S": "x"}}}}
        return None


class Publisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, int]] = []

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        audience: tuple[str, ...] | None = None,
        properties: PublishProperties | None = None,
    ) -> None:
        self.published.append((topic, payload, qos))


class Downlinks:
    def __init__(self) -> None:
        self.queued: list[tuple[str, str, str]] = []

    async def queue(self, group_path: str, device: str, data: str, *, source: str) -> None:
        if not device.startswith("1"):
            raise NotFound("device not found")
        self.queued.append((group_path, device, data))


def rule(name: str, payload: dict[str, Any], group: str = ROOT) -> TopicRule:
    return rule_from_payload(name, payload, group_path=group, owner="api", created_at=1.0)


async def settle(engine: RulesEngine, *messages: BusMessage) -> None:
    for message in messages:
        await engine.handle(message)
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.fixture
def ports() -> tuple[Tables, Publisher, Downlinks]:
    return Tables(missing=("Missing",)), Publisher(), Downlinks()


@pytest.fixture
def engine(ports: tuple[Tables, Publisher, Downlinks]) -> RulesEngine:
    tables, publisher, downlinks = ports
    return RulesEngine(
        ActionRunner(tables=tables, publisher=publisher, downlinks=downlinks), root_path=ROOT
    )


async def test_the_aws_sigfox_rule_puts_one_item_per_message(
    engine: RulesEngine, ports: tuple[Tables, Publisher, Downlinks]
) -> None:
    engine.load(
        [
            rule(
                "SigfoxDownlink",
                {
                    "sql": SIGFOX_SQL,
                    "actions": [
                        {"dynamoDBv2": {"roleArn": "arn:x", "putItem": {"tableName": "T"}}}
                    ],
                },
            )
        ]
    )
    await settle(
        engine,
        BusMessage(
            "sigfox/downlink/12AB",
            b'{"downlinkData": "0102"}',
            principal="api_user:7",
            received_at=1234,
        ),
    )
    assert ports[0].writes == [
        (
            ROOT,
            "PutItem",
            {
                "TableName": "T",
                "Item": {
                    "downlinkData": {"S": "0102"},
                    "id": {"S": "12AB"},
                    "timestamp": {"N": "1234"},
                    "sender": {"S": "api_user:7"},
                },
            },
        )
    ]
    stats = engine.stats_of("SigfoxDownlink")
    assert (stats.matched, stats.passed, stats.action_successes) == (1, 1, 1)


async def test_the_aws_lora_rule_keys_by_appeui_deveui_and_a_string_timestamp(
    engine: RulesEngine, ports: tuple[Tables, Publisher, Downlinks]
) -> None:
    engine.load(
        [
            rule(
                "LoraHistory",
                {
                    "sql": "SELECT * FROM 'lora/#'",
                    "actions": [
                        {
                            "dynamoDB": {
                                "tableName": "LoraMessages",
                                "roleArn": "arn:x",
                                "hashKeyField": "DeviceID",
                                "hashKeyValue": "${topic(2)}/${topic(3)}",
                                "rangeKeyField": "Timestamp",
                                "rangeKeyValue": "${timestamp()}",
                                "rangeKeyType": "STRING",
                            }
                        }
                    ],
                },
            )
        ]
    )
    await settle(
        engine,
        BusMessage("lora/APP1/DEV1", b'{"port2_bytes": [1, 2]}', received_at=99),
        BusMessage("lora/APP1/DEV2", b"\x01\x02", received_at=100),
    )
    first, second = ports[0].writes
    assert first[2] == {
        "TableName": "LoraMessages",
        "Item": {
            "DeviceID": {"S": "APP1/DEV1"},
            "Timestamp": {"S": "99"},
            "payload": {"M": {"port2_bytes": {"L": [{"N": "1"}, {"N": "2"}]}}},
        },
    }
    assert second[2]["Item"]["payload"] == {"B": base64.b64encode(b"\x01\x02").decode()}


async def test_a_missing_table_sends_aws_error_document_to_the_error_action(
    engine: RulesEngine, ports: tuple[Tables, Publisher, Downlinks]
) -> None:
    engine.load(
        [
            rule(
                "Broken",
                {
                    "sql": "SELECT * FROM 'a/+'",
                    "actions": [
                        {"dynamoDBv2": {"roleArn": "r", "putItem": {"tableName": "Missing"}}},
                        {"republish": {"roleArn": "r", "topic": "copy/${topic(2)}", "qos": 1}},
                    ],
                    "errorAction": {"republish": {"roleArn": "r", "topic": "errors/rules"}},
                },
            )
        ]
    )
    await settle(engine, BusMessage("a/b", b'{"x": 1}', client_id="c1"))
    published = ports[1].published
    assert published[0] == ("copy/b", b'{"x":1}', 1)
    topic, body, _ = published[1]
    document = orjson.loads(body)
    assert topic == "errors/rules"
    assert document["ruleName"] == "Broken" and document["topic"] == "a/b"
    assert document["clientId"] == "c1"
    assert base64.b64decode(document["base64OriginalPayload"]) == b'{"x": 1}'
    assert document["cloudwatchTraceId"]
    (failure,) = document["failures"]
    assert failure["failedAction"] == "DynamoDBv2Action"
    assert failure["failedResource"] == "Missing"
    assert "not found" in failure["errorMessage"]
    stats = engine.stats_of("Broken")
    assert (stats.action_successes, stats.action_failures) == (1, 1)
    assert stats.last_errors[0]["failedResource"] == "Missing"
    assert stats.last_errors[0]["messageId"] is None  # not an uplink of lorafox's store


async def test_where_disabled_rules_and_group_visibility(
    engine: RulesEngine, ports: tuple[Tables, Publisher, Downlinks]
) -> None:
    republish = [{"republish": {"roleArn": "r", "topic": "out/${topic()}"}}]
    engine.load(
        [
            rule("Hot", {"sql": "SELECT t FROM 'x/#' WHERE t > 30", "actions": republish}),
            rule(
                "Off",
                {"sql": "SELECT * FROM 'x/#'", "actions": republish, "ruleDisabled": True},
            ),
            rule("Child", {"sql": "SELECT 1 AS one FROM 'x/#'", "actions": republish}, "/root/c/"),
        ]
    )
    await settle(
        engine,
        BusMessage("x/1", b'{"t": 31}'),
        BusMessage("x/2", b'{"t": 20}'),
        BusMessage("x/3", b'{"t": 40}', audience=("/root/c/d/",)),
        BusMessage("x/4", b'{"t": 40}', audience=("/root/other/",)),
    )
    topics = sorted(t for t, _, _ in ports[1].published)
    assert topics == ["out/x/1", "out/x/3", "out/x/3", "out/x/4"]
    assert engine.stats_of("Hot").matched == 4 and engine.stats_of("Hot").passed == 3
    assert engine.stats_of("Child").matched == 1
    assert "Off" not in engine.stats


async def test_downlink_action(
    engine: RulesEngine, ports: tuple[Tables, Publisher, Downlinks]
) -> None:
    engine.load(
        [
            rule(
                "Down",
                {
                    "sql": "SELECT * FROM 'cmd/+'",
                    "actions": [
                        {"downlink": {"deviceId": "${topic(2)}", "downlinkData": "${data}"}}
                    ],
                },
                "/root/g/",
            )
        ]
    )
    await settle(
        engine,
        BusMessage("cmd/1A", b'{"data": "00ff"}', audience=("/root/g/",)),
        BusMessage("cmd/2B", b'{"data": "00ff"}', audience=("/root/g/",)),
    )
    assert ports[2].queued == [("/root/g/", "1A", "00ff")]
    assert engine.stats_of("Down").action_failures == 1


class History:
    def __init__(self) -> None:
        self.stored: list[tuple[str, str, str, int, int, dict[str, Any]]] = []

    async def store(
        self,
        group_path: str,
        device: str,
        *,
        data: str,
        seq_number: int,
        time: int,
        extra: dict[str, Any],
    ) -> bool:
        self.stored.append((group_path, device, data, seq_number, time, extra))
        return True


async def test_store_action_renders_its_message_and_refuses_bad_data() -> None:
    history = History()
    engine = RulesEngine(ActionRunner(history=history), root_path=ROOT)
    store = {"store": {"deviceId": "${topic(2)}", "data": "${hex}", "seqNumber": "${n}"}}
    engine.load([rule("Keep", {"sql": "SELECT v FROM 'm/+'", "actions": [store]}, "/root/g/")])
    audience = ("/root/g/",)
    await settle(
        engine,
        BusMessage("m/1a", b'{"v": 1, "hex": "0A", "n": 3}', audience, received_at=5),
        BusMessage("m/2b", b'{"v": 2, "hex": "0x1"}', audience),
        BusMessage("m/3c", b'{"v": 3, "n": "x"}', audience),
        BusMessage("m/4d", b'{"v": 4, "n": -1}', audience),
    )
    assert history.stored == [
        ("/root/g/", "1A", "0a", 3, 5, {"rule": {"name": "Keep", "output": {"v": 1}}})
    ]
    stats = engine.stats_of("Keep")
    assert stats.action_failures == 3
    assert {e["failedAction"] for e in stats.last_errors} == {"StoreAction"}


async def test_the_queue_is_bounded_and_skips_topics_no_rule_wants(
    ports: tuple[Tables, Publisher, Downlinks],
) -> None:
    engine = RulesEngine(ActionRunner(publisher=ports[1]), root_path=ROOT, queue_size=2)
    assert engine.offer(BusMessage("a", b"{}"))  # no rules: nothing queued
    engine.load([rule("R", {"sql": "SELECT * FROM 'a'", "actions": []})])
    assert engine.offer(BusMessage("b", b"{}")) and engine.backlog == 0
    assert engine.offer(BusMessage("a", b"{}")) and engine.offer(BusMessage("a", b"{}"))
    assert not engine.offer(BusMessage("a", b"{}"))
    assert engine.dropped == 1
    engine.close()
    runner = asyncio.create_task(engine.run())
    await asyncio.wait_for(runner, 1)
    assert engine.stats_of("R").passed == 2
    names = {family.name for family in engine.collect()}
    assert {"lorafox_rule_matched", "lorafox_rules_dropped"} <= names


def test_templates() -> None:
    template = compile_template("$${a}-${topic(2)}/${x}/${missing}/${o}", "2016-03-23", "t")
    statement = compile_statement("SELECT * FROM '#'", "2016-03-23")
    env = statement.env(MessageContext("a/b", b'{"x": 1.5, "o": {"k": [1]}}', 0))
    assert template.render(env) == '${a}-b/1.5//{"k":[1]}'
    with pytest.raises(RuleInvalid, match="never closed"):
        compile_template("${topic(", None, "t")
    with pytest.raises(RuleInvalid, match="unexpected"):
        compile_template("${a +}", None, "t")


@pytest.mark.parametrize(
    ("payload", "error", "fragment"),
    [
        ({"sql": "SELECT * FROM"}, SqlParseError, "end of the statement"),
        ({"sql": "SELECT * FROM 'a'", "actions": [{"lambda": {}}]}, RuleInvalid, "AWS service"),
        ({"sql": "SELECT * FROM 'a'", "actions": [{"nope": {}}]}, RuleInvalid, "unknown"),
        (
            {"sql": "SELECT * FROM 'a'", "actions": [{"dynamoDBv2": {"roleArn": "r"}}]},
            RuleInvalid,
            "putItem.tableName",
        ),
        (
            {"sql": "SELECT * FROM 'a'", "actions": [{"dynamoDB": {"tableName": "t"}}]},
            RuleInvalid,
            "hashKeyField",
        ),
        (
            {"sql": "SELECT * FROM 'a'", "actions": [{"republish": {"topic": "t", "qos": 2}}]},
            RuleInvalid,
            "qos",
        ),
        (
            {"sql": "SELECT * FROM 'a'", "actions": [{"republish": {"topic": "t"}}] * 11},
            RuleInvalid,
            "at most 10",
        ),
        (
            {"sql": "SELECT * FROM 'a'", "actions": [{"store": {"data": "${hex}"}}]},
            RuleInvalid,
            "store.deviceId",
        ),
        ({"actions": []}, RuleInvalid, "sql"),
    ],
)
def test_bad_rules_are_refused(
    payload: dict[str, Any], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        rule("R", payload)


@pytest.mark.parametrize("name", ["t-r", "", "x" * 129, "a b"])
def test_rule_names(name: str) -> None:
    with pytest.raises(RuleInvalid, match="ruleName"):
        rule(name, {"sql": "SELECT * FROM 'a'"})


def test_attribute_values_and_dry_run_shapes() -> None:
    assert attribute_value({"a": [True, None, 1.5, "s", b"\x00"]}) == {
        "M": {"a": {"L": [{"BOOL": True}, {"NULL": True}, {"N": "1.5"}, {"S": "s"}, {"B": "AA=="}]}}
    }
    action = compile_action(
        {"http": {"url": "https://h/${topic()}", "headers": [{"key": "k", "value": "${a}"}]}}, None
    )
    statement = compile_statement("SELECT a FROM '#'")
    env = statement.env(MessageContext("t/1", b'{"a": "v"}', 0))
    prepared = action.prepare(statement.run(env), env)
    assert prepared.shown() == {
        "action": "http",
        "resource": "https://h/t/1",
        "request": {
            "url": "https://h/t/1",
            "headers": {"k": "v"},
            "body": {"base64": "eyJhIjoidiJ9"},
        },
    }


async def test_http_action_posts_retries_and_keeps_to_its_allow_list() -> None:
    import httpx

    calls: list[httpx.Request] = []
    answers = iter([500, 503, 200, 400])

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(next(answers))

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    engine = RulesEngine(
        ActionRunner(http=http, http_allowed=("https://hooks.example/",), http_backoff=0),
        root_path=ROOT,
    )
    spec = {
        "url": "https://hooks.example/${topic(2)}",
        "headers": [{"key": "x-k", "value": "${k}"}],
    }
    engine.load(
        [
            rule("Hook", {"sql": "SELECT k FROM 'h/+'", "actions": [{"http": spec}]}),
            rule(
                "Elsewhere",
                {"sql": "SELECT k FROM 'h/+'", "actions": [{"http": {"url": "http://10.0.0.1/"}}]},
            ),
        ]
    )
    await settle(engine, BusMessage("h/one", b'{"k": "v"}'))
    await asyncio.sleep(0.05)
    assert [str(c.url) for c in calls] == ["https://hooks.example/one"] * 3
    assert calls[0].headers["x-k"] == "v" and calls[0].content == b'{"k":"v"}'
    assert engine.stats_of("Hook").action_successes == 1
    elsewhere = engine.stats_of("Elsewhere")
    assert elsewhere.action_failures == 1
    assert "http_allowed_urls" in elsewhere.last_errors[0]["errorMessage"]
    await settle(engine, BusMessage("h/two", b'{"k": "v"}'))
    await asyncio.sleep(0.05)
    assert len(calls) == 4  # a 400 is not retried
    assert engine.stats_of("Hook").action_failures == 1
    await http.aclose()


async def test_get_dynamodb_reads_lorafox_tables(
    engine: RulesEngine, ports: tuple[Tables, Publisher, Downlinks]
) -> None:
    sql = (
        "SET @item = get_dynamodb('Limits', 'device', topic(2), 'arn:r') "
        "SELECT t, @item.owner.n AS owner FROM 't/+' WHERE t > @item.limit"
    )
    republish = [{"republish": {"roleArn": "r", "topic": "over/${topic(2)}"}}]
    engine.load(
        [
            rule("Limits", {"sql": sql, "awsIotSqlVersion": "2016-03-23", "actions": republish}),
            rule(
                "Broken",
                {
                    "sql": "SELECT get_dynamodb('Missing', 'k', 'v', 'r') AS m FROM 't/+'",
                    "awsIotSqlVersion": "2016-03-23",
                    "actions": republish,
                },
            ),
        ]
    )
    await settle(
        engine,
        BusMessage("t/1A", b'{"t": 31}'),
        BusMessage("t/1A", b'{"t": 29}'),
        BusMessage("t/2B", b'{"t": 99}'),  # no item: the limit is Undefined, WHERE is not true
    )
    await asyncio.sleep(0.01)
    assert ports[1].published == [("over/1A", b'{"t":31,"owner":"x"}', 0)]
    assert engine.stats_of("Limits").passed == 1
    broken = engine.stats_of("Broken")
    assert broken.failed == 3 and broken.last_errors[0]["failedAction"] == "get_dynamodb"


@pytest.mark.parametrize(
    ("where", "payload", "fires"),
    [
        ("device = 'A'", b'{"device": "A"}', True),
        ("device = 'A'", b'{"device": "B"}', False),
        ("'A' = device AND n > 1", b'{"device": "A", "n": 2}', True),
        ("device = 'A' AND n > 1", b'{"device": "A", "n": 1}', False),
        ("meta.device = 'A'", b'{"meta": {"device": "A"}}', True),
        ("meta.device = 'A'", b'{"meta": "A"}', False),
        ("device = '1'", b'{"device": 1}', False),  # different types are not equal
        ("device = 'A' OR n > 1", b'{"device": "B", "n": 2}', True),  # OR: no guard
        ("device = 'A'", b"not json", False),
    ],
)
async def test_rules_skipped_by_their_where_text_fire_exactly_as_evaluated(
    ports: tuple[Tables, Publisher, Downlinks], where: str, payload: bytes, fires: bool
) -> None:
    sql = "SELECT * FROM 'g/+' WHERE " + where  # noqa: S608 - AWS IoT SQL
    statement = compile_statement(sql, "2016-03-23")
    evaluated = statement.evaluate(MessageContext("g/1", payload, 0))
    assert (evaluated is not NO_MATCH) == fires
    engine = RulesEngine(ActionRunner(publisher=ports[1]), root_path=ROOT)
    republish = [{"republish": {"roleArn": "r", "topic": "out"}}]
    engine.load([rule("G", {"sql": sql, "awsIotSqlVersion": "2016-03-23", "actions": republish})])
    await settle(engine, BusMessage("g/1", payload))
    assert bool(ports[1].published) == fires
    assert engine.stats_of("G").matched == 1


async def test_templates_see_the_set_variables(
    engine: RulesEngine, ports: tuple[Tables, Publisher, Downlinks]
) -> None:
    engine.load(
        [
            rule(
                "Vars",
                {
                    "sql": "SET @room = upper(topic(2)) SELECT t FROM 'v/+'",
                    "awsIotSqlVersion": "2016-03-23",
                    "actions": [{"republish": {"roleArn": "r", "topic": "rooms/${@room}"}}],
                },
            )
        ]
    )
    await settle(engine, BusMessage("v/kitchen", b'{"t": 1}'))
    assert ports[1].published == [("rooms/KITCHEN", b'{"t":1}', 0)]
    with pytest.raises(RuleInvalid, match="not SET"):
        rule(
            "NoVar", {"sql": "SELECT t FROM 'v/+'", "actions": [{"republish": {"topic": "${@x}"}}]}
        )
