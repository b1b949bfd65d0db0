"""What a SigV4 signature must cover on ``POST /``, and what is checked before the body is read:
real HTTP requests signed by botocore, and raw sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from lorafox.auth.sigv4 import SigV4Request, amz_date, sign
from tests.conftest import Running, root_api_user
from tests.integration.helpers import serving

TARGET = "DynamoDB_20120810."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serving(tmp_path_factory.mktemp("sig") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def credentials(server: Running) -> Credentials:
    return Credentials(*root_api_user(server.base_url, "signer"))


def _signed(
    server: Running,
    credentials: Credentials,
    operation: str,
    params: dict[str, object],
    *,
    signed_headers: tuple[str, ...] | None = None,
) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url=server.base_url + "/",
        data=orjson.dumps(params),
        headers={"X-Amz-Target": TARGET + operation, "Content-Type": "application/x-amz-json-1.0"},
    )
    signer = SigV4Auth(credentials, "dynamodb", "us-east-1")
    if signed_headers is not None:
        every = signer.headers_to_sign

        def only(r: AWSRequest) -> Any:
            chosen = every(r)
            for name in list(chosen.keys()):
                if name.lower() not in signed_headers:
                    del chosen[name]
            return chosen

        signer.headers_to_sign = only
    signer.add_auth(request)
    return request


def _send(request: AWSRequest) -> httpx.Response:
    return httpx.post(request.url, content=request.body, headers=dict(request.headers.items()))


def _table(server: Running, credentials: Credentials, name: str) -> None:
    created = _send(
        _signed(
            server,
            credentials,
            "CreateTable",
            {
                "TableName": name,
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
        )
    )
    assert created.status_code == 200, created.text


def test_every_x_amz_header_must_be_signed(server: Running, credentials: Credentials) -> None:
    """Signed as DescribeTable with only host and x-amz-date, the request cannot be turned
    into a DeleteTable by changing its unsigned X-Amz-Target."""
    _table(server, credentials, "kept")
    request = _signed(
        server,
        credentials,
        "DescribeTable",
        {"TableName": "kept"},
        signed_headers=("host", "x-amz-date"),
    )
    assert "SignedHeaders=host;x-amz-date," in request.headers["Authorization"]
    as_signed = _send(request)
    assert as_signed.status_code == 400
    assert as_signed.json()["__type"].endswith("IncompleteSignatureException")
    assert "x-amz-target" in as_signed.json()["message"]
    request.headers.replace_header("X-Amz-Target", TARGET + "DeleteTable")
    tampered = _send(request)
    assert tampered.status_code == 400
    assert tampered.json()["__type"].endswith("IncompleteSignatureException")
    still = _send(_signed(server, credentials, "DescribeTable", {"TableName": "kept"}))
    assert still.status_code == 200 and still.json()["Table"]["TableName"] == "kept"


def test_presigned_requests_are_refused(server: Running, credentials: Credentials) -> None:
    _table(server, credentials, "presigned")
    request = AWSRequest(
        method="POST",
        url=server.base_url + "/",
        data=orjson.dumps({"TableName": "presigned"}),
        headers={"X-Amz-Target": TARGET + "DescribeTable"},
    )
    SigV4QueryAuth(credentials, "dynamodb", "us-east-1", expires=300).add_auth(request)
    assert "X-Amz-Signature=" in request.url
    answer = _send(request)
    assert answer.status_code == 400
    assert answer.json()["__type"].endswith("IncompleteSignatureException")
    assert "Presigned" in answer.json()["message"]


def test_unknown_signers_are_refused_before_the_body_is_read(
    server: Running, tmp_path: Path
) -> None:
    """Headers announcing 10 MB (under the 16 MB limit) from an unknown access key: the answer
    comes without the server waiting for (or buffering) any of the body."""
    request = AWSRequest(
        method="POST",
        url=server.base_url + "/",
        data=b"{}",
        headers={"X-Amz-Target": TARGET + "ListTables"},
    )
    SigV4Auth(Credentials("NOSUCHKEY", "secret"), "dynamodb", "us-east-1").add_auth(request)
    head = ["POST / HTTP/1.1", f"Host: 127.0.0.1:{server.http_port}"]
    head += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "content-length"]
    head += ["Content-Length: 10000000", "", ""]
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=20) as sock:
        sock.sendall("\r\n".join(head).encode())
        answer = sock.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 400"), answer
    assert "UnrecognizedClientException" in answer


def _signed_at(
    server: Running, credentials: Credentials, when: datetime, body: bytes
) -> dict[str, str]:
    """The headers of a ListTables signed at ``when``, its Authorization parameters separated
    by spaces only (``Credential=… SignedHeaders=… Signature=…``), as some hand-written
    clients send them."""
    headers = {
        "Host": f"127.0.0.1:{server.http_port}",
        "X-Amz-Date": amz_date(when),
        "X-Amz-Target": TARGET + "ListTables",
        "Content-Type": "application/x-amz-json-1.0",
    }
    request = SigV4Request("POST", "/", "", list(headers.items()), body)
    authorization = sign(
        request,
        access_key_id=credentials.access_key,
        secret_key=credentials.secret_key,
        region="us-east-1",
        service="dynamodb",
    )
    assert authorization.count(", ") == 2
    return {**headers, "Authorization": authorization.replace(", ", " ")}


def test_authorization_parameters_separated_by_spaces(
    server: Running, credentials: Credentials
) -> None:
    """Read as DynamoDB reads them: a current signature is accepted, an old one is reported
    as expired (not as a header missing its SignedHeaders)."""
    now = datetime.now(UTC)
    current = httpx.post(
        server.base_url + "/", content=b"{}", headers=_signed_at(server, credentials, now, b"{}")
    )
    assert current.status_code == 200, current.text
    assert "TableNames" in current.json()
    old = now - timedelta(minutes=20)
    expired = httpx.post(
        server.base_url + "/", content=b"{}", headers=_signed_at(server, credentials, old, b"{}")
    )
    assert expired.status_code == 400
    assert expired.json()["__type"] == "com.amazon.coral.service#InvalidSignatureException"
    assert expired.json()["message"].startswith("Signature expired: ")
