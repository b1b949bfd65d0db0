"""Rule actions, in AWS's parameter names and shapes.

``compile_action(spec, version)`` checks one ``{"<kind>": {...}}`` entry of a rule and compiles
its substitution templates (pure; ``RuleInvalid`` says what is wrong). ``prepare(result, env)``
turns the SELECT's result into the request the action would make (what the dry run shows);
``ActionRunner.run`` makes it through the ports.

=============  ==============================================================================
dynamoDB       v1: ``tableName``, ``hashKeyField``/``hashKeyValue``/``hashKeyType``, the
               range key likewise, ``payloadField`` (default ``payload``), ``operation``
               (INSERT, UPDATE, DELETE); the result goes in one column: a map when it is JSON,
               binary otherwise
dynamoDBv2     ``putItem.tableName``: each top-level key of the result is a column
republish      ``topic`` (template), ``qos`` 0 or 1, ``headers``: MQTT 5 properties (templates,
               ``lorafox.rules.republish``)
http           ``url`` (template), ``headers`` [{key, value (template)}]: POST of the result,
               retried with back-off, kept in an outbox until answered, each request claimed
               by one instance at a time (``lorafox.rules.http_requests``)
downlink       lorafox's own: ``deviceId`` and ``downlinkData`` (templates): queue a downlink
store          lorafox's own: ``deviceId``, ``data`` (hex), ``seqNumber`` (templates): store the
               message in the device's history through the uplink flow, the result in
               ``extra.rule``
=============  ==============================================================================

``roleArn`` is accepted and ignored (lorafox's rules act with their group's rights).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from lorafox.errors import LorafoxError
from lorafox.ports.rules import (
    HttpRequest,
    RuleDownlinks,
    RuleHistory,
    RuleHttpOutbox,
    RulePublisher,
    RuleTables,
)
from lorafox.rules.errors import ActionFailed, RuleInvalid
from lorafox.rules.http_requests import HttpRequests
from lorafox.rules.republish import compile_headers, publish_properties
from lorafox.rules.sql import UNDEFINED, Env, to_json
from lorafox.rules.templates import Template, compile_template

__all__ = [
    "KINDS",
    "ActionRunner",
    "CompiledAction",
    "Prepared",
    "attribute_value",
    "compile_action",
    "payload_bytes",
    "plain_value",
    "showable",
]

MAX_ACTIONS = 10

KINDS = {
    "dynamoDB": "DynamoAction",
    "dynamoDBv2": "DynamoDBv2Action",
    "republish": "RepublishAction",
    "http": "HttpAction",
    "downlink": "DownlinkAction",
    "store": "StoreAction",
}
"""The actions lorafox runs, and the ``failedAction`` name AWS's error document gives them."""

UNSUPPORTED = {
    "lambda",
    "sns",
    "sqs",
    "kinesis",
    "s3",
    "firehose",
    "cloudwatchMetric",
    "cloudwatchAlarm",
    "cloudwatchLogs",
    "elasticsearch",
    "salesforce",
    "iotAnalytics",
    "iotEvents",
    "iotSiteWise",
    "stepFunctions",
    "timestream",
    "kafka",
    "openSearch",
    "location",
    "influxDB",
}


@dataclass(slots=True, frozen=True)
class Prepared:
    """One action's request for one message: what it does, on what, with which parameters."""

    kind: str
    failed_action: str
    resource: str
    params: dict[str, Any]

    def shown(self) -> dict[str, Any]:
        """For the dry run: binary payloads as base64."""
        return {"action": self.kind, "resource": self.resource, "request": showable(self.params)}


def showable(value: Any) -> Any:
    """``value`` as JSON can show it: bytes as ``{"base64": …}``."""
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {k: showable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [showable(v) for v in value]
    return value


def payload_bytes(result: Any) -> bytes:
    """A SELECT result as a message body: bytes as they are, anything else as JSON."""
    return result if isinstance(result, bytes) else to_json(result)


def _number_text(value: int | float) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ActionFailed("a number that is not finite cannot be stored in a table")
        return repr(value)
    return str(value)


def attribute_value(value: Any) -> dict[str, Any]:
    """A SQL value as a DynamoDB attribute value in wire form."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": _number_text(value)}
    if isinstance(value, str):
        return {"S": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, bytes):
        return {"B": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return {"L": [attribute_value(v) for v in value if v is not UNDEFINED]}
    if isinstance(value, dict):
        return {"M": {k: attribute_value(v) for k, v in value.items() if v is not UNDEFINED}}
    raise ActionFailed(f"cannot store a value of type {type(value).__name__}")


def plain_value(attribute: Mapping[str, Any]) -> Any:
    """A DynamoDB attribute value in wire form as a SQL value (what ``get_dynamodb`` gives)."""
    ((kind, value),) = attribute.items()
    if kind == "N":
        if any(c in value for c in ".eE"):
            return float(value)
        return int(value)
    if kind in ("S", "BOOL"):
        return value
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: plain_value(v) for k, v in value.items()}
    if kind == "L":
        return [plain_value(v) for v in value]
    if kind == "NS":
        return [plain_value({"N": v}) for v in value]
    return value  # B and BS stay base64 text, SS a list of strings


# -- compiling ------------------------------------------------------------------------------


def _string(params: Mapping[str, Any], name: str, kind: str, *, required: bool) -> str | None:
    value = params.get(name)
    if value is None:
        if required:
            raise RuleInvalid(f"{kind}.{name} is required", field=f"{kind}.{name}")
        return None
    if not isinstance(value, str) or (required and not value):
        raise RuleInvalid(f"{kind}.{name} must be a non-empty string", field=f"{kind}.{name}")
    return value


def _template(
    params: Mapping[str, Any],
    name: str,
    kind: str,
    version: str | None,
    *,
    required: bool,
    variables: frozenset[str] = frozenset(),
) -> Template | None:
    text = _string(params, name, kind, required=required)
    if text is None:
        return None
    return compile_template(text, version, f"{kind}.{name}", variables)


def _key_type(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name) or "STRING"
    if value not in ("STRING", "NUMBER"):
        raise RuleInvalid(f"dynamoDB.{name} must be STRING or NUMBER", field=f"dynamoDB.{name}")
    return str(value)


@dataclass(slots=True, frozen=True)
class CompiledAction:
    """One checked action of a rule."""

    kind: str
    spec: dict[str, Any]
    templates: dict[str, Template]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def failed_action(self) -> str:
        return KINDS[self.kind]

    def _render(self, name: str, env: Env) -> str | None:
        template = self.templates.get(name)
        return None if template is None else template.render(env)

    def prepare(self, result: Any, env: Env) -> Prepared:
        """The request this action makes for ``result`` (``ActionFailed`` when it cannot)."""
        return _PREPARE[self.kind](self, result, env)


def _http_headers(
    params: Mapping[str, Any],
    version: str | None,
    templates: dict[str, Template],
    variables: frozenset[str],
) -> list[str]:
    """The names of an http action's headers; their value templates go in ``templates``."""
    headers = params.get("headers", [])
    if not isinstance(headers, list):
        raise RuleInvalid("http.headers must be a list", field="http.headers")
    names = []
    for i, header in enumerate(headers):
        if not isinstance(header, Mapping) or not isinstance(header.get("key"), str):
            raise RuleInvalid("each http header needs a key and a value", field="http")
        value = header.get("value")
        if not isinstance(value, str):
            raise RuleInvalid("each http header needs a key and a value", field="http")
        templates[f"header:{i}"] = compile_template(value, version, "http.headers", variables)
        names.append(str(header["key"]))
    return names


def compile_action(
    spec: Any,
    version: str | None,
    *,
    where: str = "actions",
    variables: frozenset[str] = frozenset(),
) -> CompiledAction:
    """Check one ``{"<kind>": {...}}`` entry and compile its templates (``variables``: the
    statement's SET variables, which templates may use)."""
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise RuleInvalid(f"each of {where} must name exactly one action", field=where)
    ((kind, params),) = spec.items()
    if kind in UNSUPPORTED:
        raise RuleInvalid(
            f"the {kind} action needs an AWS service; lorafox runs " + ", ".join(sorted(KINDS)),
            field=where,
        )
    if kind not in KINDS:
        raise RuleInvalid(f"unknown action {kind!r}", field=where)
    if not isinstance(params, Mapping):
        raise RuleInvalid(f"{kind} must be an object", field=where)
    templates: dict[str, Template] = {}
    options: dict[str, Any] = {}

    def add(name: str, *, required: bool) -> None:
        template = _template(params, name, kind, version, required=required, variables=variables)
        if template is not None:
            templates[name] = template

    if kind == "dynamoDB":
        for name in ("tableName", "hashKeyField", "hashKeyValue"):
            add(name, required=True)
        for name in ("rangeKeyField", "rangeKeyValue", "payloadField", "operation"):
            add(name, required=False)
        if ("rangeKeyField" in templates) != ("rangeKeyValue" in templates):
            raise RuleInvalid(
                "dynamoDB.rangeKeyField and rangeKeyValue go together", field="dynamoDB"
            )
        options["hashKeyType"] = _key_type(params, "hashKeyType")
        options["rangeKeyType"] = _key_type(params, "rangeKeyType")
    elif kind == "dynamoDBv2":
        put = params.get("putItem")
        if not isinstance(put, Mapping):
            raise RuleInvalid("dynamoDBv2.putItem.tableName is required", field="dynamoDBv2")
        template = _template(
            put, "tableName", "dynamoDBv2.putItem", version, required=True, variables=variables
        )
        if template is not None:
            templates["tableName"] = template
    elif kind == "republish":
        add("topic", required=True)
        qos = params.get("qos", 0)
        if qos not in (0, 1) or isinstance(qos, bool):
            raise RuleInvalid("republish.qos must be 0 or 1", field="republish.qos")
        options["qos"] = qos
        options["headers"] = compile_headers(params, version, variables)
    elif kind == "http":
        add("url", required=True)
        options["headers"] = _http_headers(params, version, templates, variables)
    elif kind == "store":
        add("deviceId", required=True)
        add("data", required=False)
        add("seqNumber", required=False)
    else:  # downlink
        add("deviceId", required=True)
        add("downlinkData", required=True)
    return CompiledAction(kind, dict(spec), templates, options)


def _key(action: CompiledAction, env: Env, which: str) -> tuple[str, dict[str, Any]] | None:
    name = action._render(f"{which}KeyField", env)
    if name is None:
        return None
    value = action._render(f"{which}KeyValue", env) or ""
    if action.options[f"{which}KeyType"] == "NUMBER":
        try:
            float(value)
        except ValueError:
            raise ActionFailed(
                f"{which}KeyValue {value!r} is not a number ({which}KeyType NUMBER)"
            ) from None
        return name, {"N": value}
    return name, {"S": value}


def _prepare_dynamodb(action: CompiledAction, result: Any, env: Env) -> Prepared:
    table = action._render("tableName", env) or ""
    key: dict[str, Any] = {}
    for which in ("hash", "range"):
        found = _key(action, env, which)
        if found is not None:
            key[found[0]] = found[1]
    operation = (action._render("operation", env) or "INSERT").upper()
    column = action._render("payloadField", env) or "payload"
    if isinstance(result, bytes):
        payload: dict[str, Any] = {"B": base64.b64encode(result).decode()}
    else:
        payload = attribute_value(result)
    if operation == "INSERT":
        params: dict[str, Any] = {"TableName": table, "Item": {**key, column: payload}}
        name = "PutItem"
    elif operation == "UPDATE":
        params = {
            "TableName": table,
            "Key": key,
            "UpdateExpression": "SET #payload = :payload",
            "ExpressionAttributeNames": {"#payload": column},
            "ExpressionAttributeValues": {":payload": payload},
        }
        name = "UpdateItem"
    elif operation == "DELETE":
        params, name = {"TableName": table, "Key": key}, "DeleteItem"
    else:
        raise ActionFailed(f"operation {operation!r} is not INSERT, UPDATE or DELETE")
    return Prepared(action.kind, action.failed_action, table, {"operation": name, **params})


def _prepare_dynamodb_v2(action: CompiledAction, result: Any, env: Env) -> Prepared:
    table = action._render("tableName", env) or ""
    if not isinstance(result, dict):
        raise ActionFailed("dynamoDBv2 needs a JSON object: each of its keys is a column")
    item = {k: attribute_value(v) for k, v in result.items()}
    return Prepared(
        action.kind,
        action.failed_action,
        table,
        {"operation": "PutItem", "TableName": table, "Item": item},
    )


def _prepare_republish(action: CompiledAction, result: Any, env: Env) -> Prepared:
    topic = action._render("topic", env) or ""
    params = {"topic": topic, "qos": action.options["qos"], "payload": payload_bytes(result)}
    headers = action.options["headers"]
    if headers is not None and (rendered := headers.render(env)):
        params["headers"] = rendered
    return Prepared(action.kind, action.failed_action, topic, params)


def _prepare_http(action: CompiledAction, result: Any, env: Env) -> Prepared:
    url = action._render("url", env) or ""
    headers = {
        name: action.templates[f"header:{i}"].render(env)
        for i, name in enumerate(action.options["headers"])
    }
    return Prepared(
        action.kind,
        action.failed_action,
        url,
        {"url": url, "headers": headers, "body": payload_bytes(result)},
    )


def _prepare_downlink(action: CompiledAction, result: Any, env: Env) -> Prepared:
    device = action._render("deviceId", env) or ""
    data = action._render("downlinkData", env) or ""
    return Prepared(
        action.kind, action.failed_action, device, {"deviceId": device, "downlinkData": data}
    )


MAX_STORED_BYTES = 242
"""The longest ``data`` the store action takes (a LoRa frame's largest payload)."""
_HEX_DATA = re.compile(r"^(?:[0-9a-f]{2})*$")


def _prepare_store(action: CompiledAction, result: Any, env: Env) -> Prepared:
    device = (action._render("deviceId", env) or "").strip().upper()
    if not device:
        raise ActionFailed("store.deviceId rendered empty")
    data = (action._render("data", env) or "").strip().lower()
    if not _HEX_DATA.match(data) or len(data) > 2 * MAX_STORED_BYTES:
        raise ActionFailed(f"store.data must be hex of at most {MAX_STORED_BYTES} bytes")
    seq_text = (action._render("seqNumber", env) or "0").strip()
    try:
        seq_number = int(seq_text)
    except ValueError:
        raise ActionFailed(f"store.seqNumber {seq_text!r} is not an integer") from None
    if not 0 <= seq_number < 2**31:
        raise ActionFailed(f"store.seqNumber {seq_number} is out of range")
    output = {"base64": base64.b64encode(result).decode()} if isinstance(result, bytes) else result
    return Prepared(
        action.kind,
        action.failed_action,
        device,
        {
            "deviceId": device,
            "data": data,
            "seqNumber": seq_number,
            "time": env.message.timestamp,
            "output": output,
        },
    )


_PREPARE = {
    "dynamoDB": _prepare_dynamodb,
    "dynamoDBv2": _prepare_dynamodb_v2,
    "republish": _prepare_republish,
    "http": _prepare_http,
    "downlink": _prepare_downlink,
    "store": _prepare_store,
}


# -- running --------------------------------------------------------------------------------


@dataclass(slots=True)
class ActionRunner:
    """Makes prepared requests through the ports; each failure is an ``ActionFailed``."""

    tables: RuleTables | None = None
    publisher: RulePublisher | None = None
    downlinks: RuleDownlinks | None = None
    history: RuleHistory | None = None
    http: httpx.AsyncClient | None = None
    outbox: RuleHttpOutbox | None = None
    http_allowed: tuple[str, ...] = ()
    """URL prefixes the http action may post to."""
    http_attempts: int = 3
    http_backoff: float = 1.0
    http_lease: float = 30.0
    """Seconds an instance's claim on a kept request lasts unrenewed."""
    requests: HttpRequests | None = None
    """The http requests' sender (made from the fields above when ``http`` is given)."""

    def __post_init__(self) -> None:
        if self.http is not None and self.requests is None:
            self.requests = HttpRequests(
                self.http,
                self.outbox,
                attempts=self.http_attempts,
                backoff=self.http_backoff,
                lease=self.http_lease,
            )

    async def read(
        self, group_path: str, table: str, key: tuple[tuple[str, Any], ...]
    ) -> dict[str, Any] | None:
        """``get_dynamodb``'s read: the item as SQL values, None when there is none."""
        if self.tables is None:
            raise ActionFailed("no table store")
        item = await self.tables.read(
            group_path, table, {name: attribute_value(value) for name, value in key}
        )
        return None if item is None else {k: plain_value(v) for k, v in item.items()}

    async def aclose(self) -> None:
        if self.requests is not None:
            await self.requests.close()
        if self.http is not None:
            await self.http.aclose()

    async def run(self, prepared: Prepared, group_path: str, rule: str) -> None:
        try:
            await self._run(prepared, group_path, rule)
        except ActionFailed:
            raise
        except LorafoxError as exc:
            raise ActionFailed(exc.message) from exc

    async def _run(self, prepared: Prepared, group_path: str, rule: str) -> None:
        params = prepared.params
        if prepared.kind in ("dynamoDB", "dynamoDBv2"):
            if self.tables is None:
                raise ActionFailed("no table store")
            request = {k: v for k, v in params.items() if k != "operation"}
            await self.tables.write(group_path, params["operation"], request)
        elif prepared.kind == "republish":
            if self.publisher is None:
                raise ActionFailed("no MQTT bus")
            headers = params.get("headers")
            await self.publisher.publish(
                params["topic"],
                params["payload"],
                qos=params["qos"],
                audience=(group_path,),
                properties=None if headers is None else publish_properties(headers),
            )
        elif prepared.kind == "http":
            await self._post(params, rule)
        elif prepared.kind == "downlink":
            if self.downlinks is None:
                raise ActionFailed("no downlink queue")
            await self.downlinks.queue(
                group_path, params["deviceId"], params["downlinkData"], source=f"rule:{rule}"
            )
        elif prepared.kind == "store":
            if self.history is None:
                raise ActionFailed("no message store")
            await self.history.store(
                group_path,
                params["deviceId"],
                data=params["data"],
                seq_number=params["seqNumber"],
                time=params["time"],
                extra={"rule": {"name": rule, "output": params["output"]}},
            )

    async def _post(self, params: dict[str, Any], rule: str) -> None:
        """POST with retries, kept in the outbox meanwhile (``HttpRequests``)."""
        if self.requests is None:
            raise ActionFailed("no HTTP client")
        request = HttpRequest(rule, params["url"], params["headers"], params["body"])
        if not any(request.url.startswith(prefix) for prefix in self.http_allowed):
            raise ActionFailed(f"{request.url} is not under rules.http_allowed_urls")
        await self.requests.post(request)
