"""The DynamoDB JSON protocol on ``POST /``: a bare ASGI handler, like the Sigfox callbacks.

A request is ``POST /`` with ``X-Amz-Target: DynamoDB_20120810.<Operation>``, a JSON body
(``Content-Type: application/x-amz-json-1.0``) and an AWS Signature V4 whose access key id is
an API user's login and whose secret key is its password. The answer is the operation's JSON,
or DynamoDB's error form ``{"__type": "…#ValidationException", "message": "…"}`` with its
status, always with ``x-amzn-RequestId`` and ``x-amz-crc32`` (the CRC32 of the body, which
botocore checks). ``GET /`` (health) and ``OPTIONS /`` (CORS preflight) are answered here too;
the HTTP level (body limits, compression, CORS, health) is ``lorafox.api.dynamodb_http``.

Authentication errors are DynamoDB's (all HTTP 400, as DynamoDB answers them):
``MissingAuthenticationTokenException`` (no signature), ``IncompleteSignatureException``
(malformed), ``UnrecognizedClientException`` (unknown access key id),
``InvalidSignatureException`` (wrong signature, wrong secret, clock skew over 15 minutes).
Any region is accepted in the credential scope and echoed in ARNs; the service must be
``dynamodb``. The secret of an access key is looked up once a second at most
(``lorafox.auth.access_keys``), not at every request.

Authorization: a table belongs to a group; an API user sees the tables of its group's subtree
and reads or writes them as its profiles allow (``lorafox.tables.access``, docs/dynamodb.md).
"""

from __future__ import annotations

import logging
import uuid
import zlib
from typing import Any

import orjson

from lorafox.api.asgi import Receive, Scope, Send, declared_length, read_body, respond
from lorafox.api.dynamodb_http import (
    COMPRESS_ABOVE,
    MAX_REQUEST_BYTES,
    RequestEntityTooLargeException,
    compress,
    cors_headers,
    decoded_body,
    health_host,
    response_coding,
)
from lorafox.api.dynamodb_json import parse_request
from lorafox.auth import rbac
from lorafox.auth.access_keys import AccessKeys
from lorafox.auth.principals import PrincipalAuthenticator
from lorafox.auth.sigv4 import SigV4Error, SigV4Request, SigV4Verifier
from lorafox.domain import Principal, Profile
from lorafox.errors import InvalidInput, PayloadTooLarge, StoreError
from lorafox.tables.access import Access, TableCaller
from lorafox.tables.errors import (
    CORAL_SERVICE,
    DynamoDBError,
    InternalServerError,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    SerializationException,
    UnknownOperationException,
    UnrecognizedClientException,
)
from lorafox.tables.operations import TableOperations
from lorafox.tables.streams import STREAM_OPERATIONS
from lorafox.tables.tagging import describe_endpoints

__all__ = [
    "TARGET_PREFIX",
    "DynamoDBEndpoint",
    "IncompleteSignatureException",
    "is_dynamodb",
    "table_caller",
]

log = logging.getLogger(__name__)

TARGET_PREFIX = "DynamoDB_20120810."
STREAMS_TARGET_PREFIX = "DynamoDBStreams_20120810."
"""The ``dynamodbstreams`` API's operations (ListStreams, GetRecords, …), on the same endpoint."""
HOME_PATH = "/console"
"""Where a browser asking for ``GET /`` is sent (the web console)."""
_CONTENT_TYPE = b"application/x-amz-json-1.0"


class IncompleteSignatureException(DynamoDBError, namespace=CORAL_SERVICE):
    """The signature information is malformed."""


_AUTH_ERRORS: dict[str, type[DynamoDBError]] = {
    "MissingAuthenticationTokenException": MissingAuthenticationTokenException,
    "IncompleteSignatureException": IncompleteSignatureException,
    "UnrecognizedClientException": UnrecognizedClientException,
    "InvalidSignatureException": InvalidSignatureException,
}


_METHODS = frozenset({"POST", "GET", "OPTIONS"})


def is_dynamodb(scope: Scope) -> bool:
    """Whether an ASGI request is for this endpoint: ``POST /``, and ``GET /`` (health) and
    ``OPTIONS /`` (CORS preflight) as DynamoDB's endpoint answers them."""
    return bool(scope["type"] == "http" and scope["path"] == "/" and scope["method"] in _METHODS)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _auth_error(exc: SigV4Error) -> DynamoDBError:
    kind = _AUTH_ERRORS.get(exc.code, InvalidSignatureException)
    if kind in (MissingAuthenticationTokenException, UnrecognizedClientException):
        return kind()  # DynamoDB's fixed texts
    return kind(str(exc) or None)


_ACCESS = {
    Profile.VIEWER: Access.READ,
    Profile.DEVICE_MANAGER: Access.WRITE,
    Profile.ADMIN: Access.MANAGE,
}


def table_caller(principal: Principal, login: str) -> TableCaller:
    """A user or an API user as the tables see it: its grants, and its group for the tables it
    makes (the console's tables pages read as the session's user)."""
    grants = tuple((g.path, _ACCESS[g.profile]) for g in principal.grants)
    home = rbac.home(principal)
    return TableCaller(login, home.path if home else "", grants)


class DynamoDBEndpoint:
    """ASGI handler: verify, dispatch to :class:`TableOperations`, answer in DynamoDB's form."""

    def __init__(self, operations: TableOperations, auth: PrincipalAuthenticator) -> None:
        self._operations = operations

        keys = AccessKeys(auth)
        self._api_user = keys.api_user
        self._verifier = SigV4Verifier(keys.secret, service="dynamodb")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = _header(scope, b"origin") is not None
        if scope["method"] == "OPTIONS":
            requested = _header(scope, b"access-control-request-headers")
            headers = [(b"content-length", b"0"), (b"allow", b"GET, POST, OPTIONS")]
            await respond(send, 200, headers + cors_headers(origin, True, requested), b"")
            return
        cors = cors_headers(origin, False, None)
        if scope["method"] == "GET":
            await self._health(scope, send, cors)
            return
        request_id = uuid.uuid4().hex.upper()
        extra: list[tuple[bytes, bytes]] = []
        try:
            status, payload = 200, await self._handle(scope, receive)
        except DynamoDBError as exc:
            status, payload = exc.status, exc.body()
            if isinstance(exc, RequestEntityTooLargeException) and exc.unread:
                extra.append((b"connection", b"close"))  # the rest of the body is not read
        except StoreError as exc:
            log.error("DynamoDB request failed: %s", exc)
            status, payload = 500, InternalServerError().body()
        except Exception:
            log.exception("DynamoDB request failed")
            status, payload = 500, InternalServerError().body()
        body = orjson.dumps(payload)
        if len(body) > COMPRESS_ABOVE:
            coding = response_coding(_header(scope, b"accept-encoding") or "")
            if coding is not None:
                body = compress(body, coding)
                extra += [(b"content-encoding", coding.encode()), (b"vary", b"accept-encoding")]
        headers = [
            (b"content-type", _CONTENT_TYPE),
            (b"content-length", str(len(body)).encode()),
            (b"x-amzn-requestid", request_id.encode()),
            (b"x-amz-crc32", str(zlib.crc32(body)).encode()),  # of the body as sent
            *extra,
            *cors,
        ]
        await respond(send, status, headers, body)

    async def _health(self, scope: Scope, send: Send, cors: list[tuple[bytes, bytes]]) -> None:
        """``healthy: <host>`` as DynamoDB's endpoint answers ``GET /``; a browser is sent to
        the console instead."""
        if "text/html" in (_header(scope, b"accept") or ""):
            headers = [(b"location", HOME_PATH.encode()), (b"content-length", b"0")]
            await respond(send, 307, headers + cors, b"")
            return
        body = f"healthy: {health_host(_header(scope, b'host') or '')}".encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff"),
        ]
        await respond(send, 200, headers + cors, body)

    async def _handle(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        query = scope.get("query_string", b"").decode("latin-1")
        if "X-Amz-Algorithm=" in query:
            # a presigned URL can be replayed by whoever sees it, for its whole lifetime
            raise IncompleteSignatureException(
                "Presigned requests are not accepted here: sign the Authorization header."
            )
        length = declared_length(scope)
        if length is not None and length > MAX_REQUEST_BYTES:
            raise RequestEntityTooLargeException(unread=True)  # before the signature is looked at
        try:
            await self._verifier.precheck(headers, query)  # before reading any body
            body = await read_body(receive, MAX_REQUEST_BYTES)
        except SigV4Error as exc:
            raise _auth_error(exc) from None
        except PayloadTooLarge:  # a chunked body, counted as it arrived
            raise RequestEntityTooLargeException(unread=True) from None
        except InvalidInput as exc:
            raise SerializationException(str(exc)) from None
        raw_path = scope.get("raw_path") or scope["path"].encode()
        request = SigV4Request(
            method=scope["method"],
            path=raw_path.decode("utf-8", "surrogateescape"),
            query=query,
            headers=headers,
            body=body,
        )
        try:
            identity = await self._verifier.verify(request)
        except SigV4Error as exc:
            raise _auth_error(exc) from None
        target = next((v for k, v in headers if k.lower() == "x-amz-target"), "")
        if target.startswith(STREAMS_TARGET_PREFIX):
            operation = target[len(STREAMS_TARGET_PREFIX) :]
            if operation not in STREAM_OPERATIONS:
                raise UnknownOperationException()
        elif target.startswith(TARGET_PREFIX):
            operation = target[len(TARGET_PREFIX) :]
            if operation in STREAM_OPERATIONS:
                raise UnknownOperationException()
        else:
            raise UnknownOperationException()
        body = decoded_body(body, _header(scope, b"content-encoding") or "")  # once signed
        params = parse_request(body)
        found = await self._api_user(identity.access_key_id)
        if found is None:  # pragma: no cover - deleted between the signature check and now
            raise UnrecognizedClientException()
        caller = table_caller(found[0], identity.access_key_id)
        if operation == "DescribeEndpoints":  # the endpoint is where the client came
            return describe_endpoints(_header(scope, b"host") or "localhost")
        return await self._operations.run(operation, params, identity.region, caller)
