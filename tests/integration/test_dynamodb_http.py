"""The HTTP level of the table API on ``/``, over real HTTP: body limits, compressed requests
and answers, CORS, the health answer of ``GET /`` and the ``Server`` header."""

from __future__ import annotations

import gzip
import select
import socket
import zlib
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import httpx
import orjson
import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from tests.conftest import Running
from tests.integration.helpers import new_table_name, table_keys

TARGET = "DynamoDB_20120810."
LIMIT = 16 * 1024 * 1024
SDK_HEADERS = (
    "authorization",
    "content-type",
    "x-amz-date",
    "x-amz-target",
    "x-amz-user-agent",
    "x-amz-security-token",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
)
"""The headers the AWS SDK for JavaScript sends to DynamoDB from a browser."""


@pytest.fixture(scope="module")
def table(client: Any) -> str:
    name = new_table_name()
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **table_keys(id="S"))
    return name


def _signed(
    server: Running, credentials: tuple[str, str], operation: str, body: bytes
) -> dict[str, str]:
    """The headers of ``operation`` with ``body`` (as sent on the wire), signed by botocore."""
    request = AWSRequest(
        method="POST",
        url=server.base_url + "/",
        data=body,
        headers={"X-Amz-Target": TARGET + operation, "Content-Type": "application/x-amz-json-1.0"},
    )
    SigV4Auth(Credentials(*credentials), "dynamodb", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def _post(
    server: Running,
    credentials: tuple[str, str],
    operation: str,
    body: bytes,
    **extra: str,
) -> httpx.Response:
    headers = {**_signed(server, credentials, operation, body), **extra}
    return httpx.post(server.base_url + "/", content=body, headers=headers, timeout=30)


def _put_payload(table: str, key: str, **attributes: str) -> bytes:
    item = {"id": {"S": key}} | {name: {"S": value} for name, value in attributes.items()}
    return orjson.dumps({"TableName": table, "Item": item})


def _item(client: Any, table: str, key: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = client.get_item(
        TableName=table, Key={"id": {"S": key}}, ConsistentRead=True
    ).get("Item")
    return found


def _raw_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP answer read from ``sock`` (with a Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


# the Server header


def test_every_answer_names_the_server_without_a_version(
    server: Running, client: Any, table: str
) -> None:
    answers = [
        client.describe_table(TableName=table)["ResponseMetadata"]["HTTPHeaders"],
        httpx.post(server.base_url + "/", content=b"{}").headers,  # unsigned: an error
        httpx.get(server.base_url + "/").headers,
        httpx.options(server.base_url + "/", headers={"Origin": "https://a.example"}).headers,
        httpx.get(server.base_url + "/healthz").headers,
        httpx.get(server.base_url + "/api/v2/devices").headers,  # 401
    ]
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=20) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        status, headers, _ = _raw_answer(sock)
    assert status == 431
    for headers_of_one in [*answers, headers]:
        assert headers_of_one["server"] == "lorafox"


# request sizes and heads


def test_a_declared_body_over_16_mb_is_refused_unread(server: Running) -> None:
    """413 from the headers alone, before the signature is looked at: no byte of the body is
    sent (nor read)."""
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{server.http_port}\r\n"
        f"X-Amz-Target: {TARGET}PutItem\r\nContent-Type: application/x-amz-json-1.0\r\n"
        f"Content-Length: {LIMIT + 1}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=20) as sock:
        sock.sendall(head.encode())
        status, headers, body = _raw_answer(sock)
    assert status == 413
    assert headers["connection"] == "close"
    assert orjson.loads(body) == {
        "__type": "com.amazon.coral.service#RequestEntityTooLargeException",
        "message": f"Request body larger than {LIMIT} bytes",
    }
    assert headers["x-amz-crc32"] == str(zlib.crc32(body))


def test_a_chunked_body_is_counted_as_it_arrives(
    server: Running, credentials: tuple[str, str], table: str
) -> None:
    """A signed request without Content-Length: the answer (413) comes once 16 MB have
    arrived, while the client still sends."""
    signed = _signed(server, credentials, "PutItem", b"{}")
    head = ["POST / HTTP/1.1", f"Host: 127.0.0.1:{server.http_port}", "Transfer-Encoding: chunked"]
    head += [f"{k}: {v}" for k, v in signed.items() if k.lower() != "content-length"]
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    sent = 0
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=20) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        pending = memoryview(b"")
        while True:  # send only while no answer is there to read
            readable, writable, _ = select.select([sock], [sock], [], 20)
            if readable:
                break
            assert writable and sent <= 2 * LIMIT, "no answer after twice the limit"
            if not pending:
                pending = memoryview(chunk)
            try:
                done = sock.send(pending)
            except (BrokenPipeError, ConnectionResetError):
                break  # closed by the server after its answer
            pending = pending[done:]
            sent += done
        status, headers, body = _raw_answer(sock)
    assert status == 413, body
    assert headers["connection"] == "close"
    assert LIMIT < sent <= 2 * LIMIT
    assert orjson.loads(body)["__type"].endswith("#RequestEntityTooLargeException")


def test_boto3_gets_413_for_a_request_over_16_mb(client: Any, table: str) -> None:
    with pytest.raises((ClientError, BotoCoreError)) as caught:
        client.put_item(TableName=table, Item={"id": {"S": "big"}, "v": {"S": "x" * (LIMIT + 7)}})
    if isinstance(caught.value, ClientError):  # else closed while boto3 still sent
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
        assert caught.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert _item(client, table, "big") is None


@pytest.mark.parametrize(
    "request_head",
    [
        b"POST /?" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # request line
        b"POST / HTTP/1.1\r\nHost: x\r\n" + b"X-Amz-Meta: a\r\n" * 2000 + b"\r\n",  # headers
    ],
    ids=["long request line", "many headers"],
)
def test_too_long_request_heads_get_431(server: Running, request_head: bytes) -> None:
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=20) as sock:
        sock.sendall(request_head)
        status, headers, _ = _raw_answer(sock)
    assert status == 431
    assert headers["connection"] == "close"


# compressed requests


@pytest.fixture(scope="module")
def compressing_client(server: Running, credentials: tuple[str, str]) -> Iterator[Any]:
    """A boto3 client gzipping every request (botocore compresses only the operations its
    service model marks, and DynamoDB's marks none yet)."""
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        request_min_compression_size_bytes=1,
    )
    client = boto3.client(
        "dynamodb",
        endpoint_url=server.base_url,
        region_name="eu-west-1",
        aws_access_key_id=credentials[0],
        aws_secret_access_key=credentials[1],
        config=config,
    )
    operations = client.meta.service_model._service_description["operations"]
    for operation in operations.values():
        operation["requestcompression"] = {"encodings": ["gzip"]}
    sent: list[str] = []
    client.meta.events.register(
        "before-send.dynamodb",
        lambda request, **_: sent.append(request.headers.get("Content-Encoding", b"")),
    )
    client.sent_encodings = sent
    yield client
    client.close()


def test_boto3_gzipped_requests_work(compressing_client: Any, client: Any, table: str) -> None:
    long = "x" * 100_000
    compressing_client.put_item(TableName=table, Item={"id": {"S": "zipped"}, "long": {"S": long}})
    assert compressing_client.sent_encodings[-1] in ("gzip", b"gzip")
    got = compressing_client.get_item(TableName=table, Key={"id": {"S": "zipped"}})
    assert got["Item"]["long"]["S"] == long
    assert _item(client, table, "zipped") == {"id": {"S": "zipped"}, "long": {"S": long}}


def test_gzip_members_one_after_the_other(
    server: Running, credentials: tuple[str, str], client: Any, table: str
) -> None:
    payload = _put_payload(table, "two-members", v="1")
    body = gzip.compress(payload[:10]) + gzip.compress(payload[10:])
    answer = _post(server, credentials, "PutItem", body, **{"Content-Encoding": "gzip"})
    assert answer.status_code == 200, answer.text
    assert _item(client, table, "two-members") == {"id": {"S": "two-members"}, "v": {"S": "1"}}


@pytest.mark.parametrize(
    ("encoding", "spoil", "message"),
    [
        ("gzip", lambda p: p, "not valid gzip"),  # not compressed at all
        ("gzip", lambda p: gzip.compress(p)[:-1], "not valid gzip"),  # truncated
        ("gzip", lambda p: gzip.compress(p) + b"junk", "not valid gzip"),
        ("gzip", lambda p: b"", "not valid gzip"),
        ("br", lambda p: p, "Content-Encoding 'br' is not supported"),
        ("garbage", lambda p: p, "Content-Encoding 'garbage' is not supported"),
    ],
    ids=["plain", "truncated", "junk after", "empty", "brotli", "garbage"],
)
def test_bodies_that_cannot_be_decoded_are_refused_as_dynamodb_does(
    server: Running,
    credentials: tuple[str, str],
    client: Any,
    table: str,
    encoding: str,
    spoil: Any,
    message: str,
) -> None:
    """DynamoDB answers both a broken gzip body and an unknown encoding with HTTP 500."""
    key = f"spoiled-{encoding}-{len(message)}"
    body = spoil(_put_payload(table, key))
    answer = _post(server, credentials, "PutItem", body, **{"Content-Encoding": encoding})
    assert answer.status_code == 500
    assert answer.json()["__type"] == "com.amazonaws.dynamodb.v20120810#InternalServerError"
    assert message in answer.json()["message"]
    assert _item(client, table, key) is None


def test_a_small_gzip_body_cannot_expand_beyond_16_mb(
    server: Running, credentials: tuple[str, str], client: Any, table: str
) -> None:
    payload = _put_payload(table, "bomb")
    expanded = payload[:-1] + b" " * (20 * 1024 * 1024) + payload[-1:]
    body = gzip.compress(expanded)
    assert len(body) < 100_000
    answer = _post(server, credentials, "PutItem", body, **{"Content-Encoding": "gzip"})
    assert answer.status_code == 413
    assert answer.json()["message"] == f"Request body larger than {LIMIT} bytes once decompressed"
    assert _item(client, table, "bomb") is None
    fits = payload[:-1] + b" " * (LIMIT - len(payload)) + payload[-1:]
    answer = _post(
        server, credentials, "PutItem", gzip.compress(fits), **{"Content-Encoding": "gzip"}
    )
    assert answer.status_code == 200, answer.text


# compressed answers


def _raw_post(
    server: Running, credentials: tuple[str, str], operation: str, body: bytes, **extra: str
) -> tuple[httpx.Headers, bytes]:
    """The answer's headers and its body as sent (not decompressed)."""
    headers = {**_signed(server, credentials, operation, body), **extra}
    with (
        httpx.Client(timeout=30) as http,
        http.stream("POST", server.base_url + "/", content=body, headers=headers) as answer,
    ):
        assert answer.status_code == 200
        return answer.headers, b"".join(answer.iter_raw())


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("gzip;q=0.5, deflate", "deflate"),
        ("*", "gzip"),
        ("br, identity", None),
        ("gzip;q=0", None),
        ("identity", None),
    ],
)
def test_large_answers_are_compressed_as_accepted(
    server: Running,
    credentials: tuple[str, str],
    client: Any,
    table: str,
    accept: str,
    coding: str | None,
) -> None:
    long = "y" * 10_000
    client.put_item(TableName=table, Item={"id": {"S": "long"}, "long": {"S": long}})
    request = orjson.dumps({"TableName": table, "Key": {"id": {"S": "long"}}})
    headers, body = _raw_post(
        server, credentials, "GetItem", request, **{"Accept-Encoding": accept}
    )
    assert headers["x-amz-crc32"] == str(zlib.crc32(body))  # of the body as sent
    assert headers["content-length"] == str(len(body))
    assert headers.get("content-encoding") == coding
    if coding == "gzip":
        body = gzip.decompress(body)
    elif coding == "deflate":
        body = zlib.decompress(body)
    assert orjson.loads(body)["Item"]["long"] == {"S": long}


def test_small_answers_are_not_compressed(
    server: Running, credentials: tuple[str, str], table: str
) -> None:
    request = orjson.dumps({"TableName": table, "Key": {"id": {"S": "nothing"}}})
    headers, body = _raw_post(
        server, credentials, "GetItem", request, **{"Accept-Encoding": "gzip"}
    )
    assert "content-encoding" not in headers
    assert orjson.loads(body) == {}


# CORS


def test_a_preflight_needs_no_signature_and_reveals_nothing(server: Running) -> None:
    answer = httpx.options(
        server.base_url + "/",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": ",".join(SDK_HEADERS),
        },
    )
    assert answer.status_code == 200
    assert answer.content == b""
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "POST" in answer.headers["access-control-allow-methods"]
    allowed = {h.strip() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert allowed >= set(SDK_HEADERS)
    assert int(answer.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in answer.headers
    assert "x-amzn-requestid" not in answer.headers


def test_a_preflight_naming_no_headers_allows_the_sdk_ones(server: Running) -> None:
    answer = httpx.options(
        server.base_url + "/",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    allowed = {h.strip() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert allowed >= set(SDK_HEADERS)


def test_answers_to_a_browser_can_be_read_by_the_sdk(
    server: Running, credentials: tuple[str, str], table: str
) -> None:
    origin = {"Origin": "https://app.example"}
    body = orjson.dumps({"TableName": table})
    described = _post(server, credentials, "DescribeTable", body, **origin)
    unsigned = httpx.post(server.base_url + "/", content=body, headers=origin)
    assert described.status_code == 200 and unsigned.status_code == 400
    for answer in (described, unsigned):
        assert answer.headers["access-control-allow-origin"] == "*"
        exposed = {
            h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")
        }
        assert exposed >= {"x-amzn-requestid", "x-amz-crc32"}
        assert "access-control-max-age" not in answer.headers


def test_no_cors_headers_without_an_origin(
    server: Running, credentials: tuple[str, str], table: str
) -> None:
    body = orjson.dumps({"TableName": table})
    for answer in (
        httpx.options(server.base_url + "/"),
        httpx.get(server.base_url + "/"),
        _post(server, credentials, "DescribeTable", body),
    ):
        assert not [h for h in answer.headers if h.lower().startswith("access-control-")]


# GET /


def test_get_root_answers_healthy_with_the_host(server: Running) -> None:
    answer = httpx.get(server.base_url + "/")
    assert answer.status_code == 200
    assert answer.text == "healthy: 127.0.0.1"
    assert answer.headers["content-type"].startswith("text/plain")
    named = httpx.get(server.base_url + "/", headers={"Host": "dynamodb.example.com:8000"})
    assert named.text == "healthy: dynamodb.example.com"
    hostile = httpx.get(server.base_url + "/", headers={"Host": "<script>alert(1)</script>"})
    assert hostile.status_code == 200
    assert hostile.text == "healthy: scriptalert1script"


def test_a_browser_is_sent_to_the_console(server: Running) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    answer = httpx.get(server.base_url + "/", headers=browser)
    assert answer.status_code in (302, 307)
    assert answer.headers["location"] == "/console"
    page = httpx.get(server.base_url + "/", headers=browser, follow_redirects=True)
    assert page.status_code == 200 and "Log in to lorafox" in page.text
    assert str(page.url).endswith("/console/login?next=%2Fconsole%2Fdevices")
