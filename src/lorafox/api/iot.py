"""The AWS IoT rule API (``/rules``) and the iot-data publish (``/topics/{topic}``): bare ASGI.

``boto3.client("iot")`` manages rules with AWS's rest-json protocol, signed with SigV4 under
the signing name ``iot``; ``boto3.client("iot-data").publish`` posts a message under
``iotdata``. The access key id is an API user's login, the secret its password (as for the
DynamoDB API). Errors are AWS's: a JSON ``{"message": …}`` with the ``x-amzn-ErrorType`` header
botocore reads, and AWS's status:

==================================  ====  ==================================================
SqlParseException                    400  the statement does not parse (line and column)
InvalidRequestException              400  a bad name (``^[a-zA-Z0-9_]+$``, ≤ 128), action, body
ResourceAlreadyExistsException       409  CreateTopicRule for a name in use
UnauthorizedException                401  a rule that does not exist or the caller does not
                                          see, or may not change (what AWS answers)
ForbiddenException etc.              403  SigV4 failures (the SigV4 error type)
ServiceUnavailableException          503  the database failed
==================================  ====  ==================================================

``/topics/{topic}`` also takes Basic auth (an API user's login and password), for devices
without MQTT or SigV4.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson

from lorafox.api.asgi import Receive, Scope, Send, read_body, respond
from lorafox.auth.access_keys import AccessKeys
from lorafox.auth.principals import PrincipalAuthenticator
from lorafox.auth.sigv4 import SigV4Error, SigV4Request, SigV4Verifier
from lorafox.domain import Principal
from lorafox.domain.rules import TopicRule
from lorafox.errors import (
    AuthenticationFailed,
    BusUnavailable,
    Forbidden,
    InvalidInput,
    NotFound,
    StoreError,
)
from lorafox.rules.errors import SqlParseError
from lorafox.rules.service import RuleExists, TopicRules

__all__ = ["IotEndpoint", "Publish", "is_iot"]

log = logging.getLogger(__name__)

MAX_RULE_BYTES = 256 * 1024
MAX_MESSAGE_BYTES = 128 * 1024
"""AWS IoT's limit on a message's payload."""
ACCOUNT = "000000000000"

Publish = Callable[[Principal, str, bytes, int, bool, str | None], Awaitable[None]]
"""Publish (caller, topic, payload, qos, retain, the caller's address) on the bus;
``Forbidden`` when the caller may not publish there, ``BusUnavailable`` when there is no bus."""


def is_iot(scope: Scope) -> bool:
    path: str = scope["path"]
    return scope["type"] == "http" and (
        path == "/rules" or path.startswith(("/rules/", "/topics/"))
    )


class _AwsError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def _unauthorized(name: str) -> _AwsError:
    return _AwsError(401, "UnauthorizedException", f"Access to topic rule '{name}' was denied")


def _rule_arn(region: str, name: str) -> str:
    return f"arn:aws:iot:{region}:{ACCOUNT}:rule/{name}"


def _topic_rule(rule: TopicRule) -> dict[str, Any]:
    """A rule as GetTopicRule gives it: its payload, its name, when it was made."""
    return {**rule.payload(), "ruleName": rule.name, "createdAt": rule.created_at}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class IotEndpoint:
    """ASGI handler of ``/rules…`` and ``/topics/…``."""

    def __init__(
        self, rules: TopicRules, auth: PrincipalAuthenticator, publish: Publish | None
    ) -> None:
        self._rules = rules
        self._auth = auth
        self._publish = publish
        keys = AccessKeys(auth)
        self._api_user = keys.api_user
        self._verifier = SigV4Verifier(keys.secret)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, body = 200, b""
        headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
        try:
            answer = await self._handle(scope, receive)
            body = b"" if answer is None else orjson.dumps(answer)
        except _AwsError as exc:
            status = exc.status
            body = orjson.dumps({"message": exc.message, **exc.extra})
            headers.append((b"x-amzn-errortype", exc.code.encode()))
        headers += [
            (b"content-length", str(len(body)).encode()),
            (b"x-amzn-requestid", binascii.hexlify(time.time_ns().to_bytes(8, "big"))),
        ]
        await respond(send, status, headers, body)

    async def _handle(self, scope: Scope, receive: Receive) -> dict[str, Any] | None:
        path: str = scope["path"]
        publishing = path.startswith("/topics/")
        region = "us-east-1"
        try:
            body = await read_body(receive, MAX_MESSAGE_BYTES if publishing else MAX_RULE_BYTES)
            caller, region = await self._caller(scope, body, "iotdata" if publishing else "iot")
            if publishing:
                await self._publish_message(scope, caller, body)
                return None
            return await self._rule_operation(scope, caller, region, body)
        except _AwsError:
            raise
        except SqlParseError as exc:
            raise _AwsError(400, "SqlParseException", exc.message) from None
        except RuleExists as exc:
            raise _AwsError(
                409,
                "ResourceAlreadyExistsException",
                f"Rule {exc.name} already exists",
                resourceId=exc.name,
                resourceArn=_rule_arn(region, exc.name),
            ) from None
        except SigV4Error as exc:
            raise _AwsError(403, exc.code, exc.message) from None
        except AuthenticationFailed as exc:
            raise _AwsError(401, "UnauthorizedException", exc.message) from None
        except InvalidInput as exc:
            raise _AwsError(400, "InvalidRequestException", exc.message) from None
        except BusUnavailable as exc:
            raise _AwsError(503, "ServiceUnavailableException", exc.message) from None
        except StoreError as exc:
            log.error("AWS IoT request failed: %s", exc)
            raise _AwsError(503, "ServiceUnavailableException", "try again later") from None
        except Exception:
            log.exception("AWS IoT request failed")
            raise _AwsError(500, "InternalFailureException", "internal error") from None

    async def _caller(self, scope: Scope, body: bytes, service: str) -> tuple[Principal, str]:
        authorization = _header(scope, b"authorization") or ""
        if authorization.startswith("Basic ") and service == "iotdata":
            try:
                login, _, password = (
                    base64.b64decode(authorization[6:], validate=True).decode().partition(":")
                )
            except (ValueError, UnicodeDecodeError):
                raise AuthenticationFailed("malformed Basic credentials") from None
            address = (scope.get("client") or ("", 0))[0]
            return await self._auth.check(login, password, address), "us-east-1"
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        query = scope.get("query_string", b"").decode("latin-1")
        raw_path = scope.get("raw_path") or scope["path"].encode()
        identity = await self._verifier.verify(
            SigV4Request(
                method=scope["method"],
                path=raw_path.decode("utf-8", "surrogateescape"),
                query=query,
                headers=headers,
                body=body,
            )
        )
        if identity.service != service:
            raise _AwsError(
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{service}'.",
            )
        found = await self._api_user(identity.access_key_id)
        if found is None:  # pragma: no cover - deleted between the signature check and now
            raise _AwsError(403, "UnrecognizedClientException", "unknown access key")
        return found[0], identity.region

    async def _publish_message(self, scope: Scope, caller: Principal, body: bytes) -> None:
        if scope["method"] != "POST":
            raise _AwsError(405, "MethodNotAllowedException", "publish with POST")
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        topic = unquote(raw_path[len("/topics/") :])
        if not topic or "+" in topic or "#" in topic or len(topic.encode()) > 256:
            raise InvalidInput(f"not a topic one can publish to: {topic!r}")
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        qos_text = query.get("qos", ["0"])[0]
        if qos_text not in ("0", "1"):
            raise InvalidInput("qos must be 0 or 1")
        retain = query.get("retain", ["false"])[0].lower() == "true"
        if self._publish is None:
            raise BusUnavailable("lorafox runs without MQTT")
        try:
            address = (scope.get("client") or (None, 0))[0]
            await self._publish(caller, topic, body, int(qos_text), retain, address)
        except Forbidden as exc:
            raise _AwsError(403, "ForbiddenException", exc.message) from None

    async def _rule_operation(
        self, scope: Scope, caller: Principal, region: str, body: bytes
    ) -> dict[str, Any] | None:
        method: str = scope["method"]
        parts = scope["path"].split("/")[2:]  # after "/rules"
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if not parts or parts == [""]:
            if method != "GET":
                raise _AwsError(405, "MethodNotAllowedException", "use GET on /rules")
            return await self._list(caller, region, query)
        name = unquote(parts[0])
        rules = self._rules
        try:
            if len(parts) == 2 and method == "POST" and parts[1] in ("enable", "disable"):
                await rules.set_disabled(caller, name, parts[1] == "disable")
                return None
            if len(parts) != 1:
                raise _AwsError(404, "ResourceNotFoundException", "no such operation")
            if method == "POST":
                await rules.create(caller, name, _json(body))
                return None
            if method == "GET":
                rule = await rules.get(caller, name)
                return {"ruleArn": _rule_arn(region, name), "rule": _topic_rule(rule)}
            if method == "PATCH":
                await rules.replace(caller, name, _json(body))
                return None
            if method == "DELETE":
                await rules.delete(caller, name)
                return None
        except (NotFound, Forbidden):
            raise _unauthorized(name) from None
        raise _AwsError(405, "MethodNotAllowedException", f"{method} is not allowed here")

    async def _list(
        self, caller: Principal, region: str, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        topic = query.get("topic", [None])[0]
        disabled_text = query.get("ruleDisabled", [None])[0]
        disabled = None if disabled_text is None else disabled_text.lower() == "true"
        try:
            limit = int(query.get("maxResults", ["1000"])[0])
        except ValueError:
            raise InvalidInput("maxResults must be a number") from None
        if not 1 <= limit <= 10_000:
            raise InvalidInput("maxResults must be between 1 and 10000")
        after = query.get("nextToken", [""])[0]
        rules = [
            r
            for r in await self._rules.list_rules(caller, topic=topic, disabled=disabled)
            if r.name > after
        ]
        page = rules[:limit]
        answer: dict[str, Any] = {
            "rules": [
                {
                    "ruleArn": _rule_arn(region, r.name),
                    "ruleName": r.name,
                    "topicPattern": self._rules.topic_filter(r),
                    "createdAt": r.created_at,
                    "ruleDisabled": r.disabled,
                }
                for r in page
            ]
        }
        if len(rules) > limit:
            answer["nextToken"] = page[-1].name
        return answer


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        raise InvalidInput("the body is not JSON") from None
