"""A DynamoDB PutItem signed by hand, as microcontroller firmware does it (no AWS SDK).

Only ``http.client``, ``hmac`` and ``hashlib``: every step maps to a few lines of C on an FT900,
ESP32 or STM32 with an HMAC-SHA256 primitive. Usage::

    python dynamodb_putitem_raw.py http://127.0.0.1:8080 LOGIN PASSWORD TABLE DEVICE

LOGIN/PASSWORD are a lorafox API user's (``lorafox api-users create …``): the access key id
and the secret key. The table needs ``device`` (S) as partition key and ``time`` (N) as sort
key. Prints the raw request and the answer; see README.md next to this file.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import sys
import time
from urllib.parse import urlsplit

REGION = "us-east-1"  # any region: lorafox accepts the one the device signs with
SERVICE = "dynamodb"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signed_put_item(
    host: str, access_key: str, secret_key: str, table: str, item: dict[str, object], now: float
) -> tuple[dict[str, str], bytes]:
    """The headers and body of a SigV4-signed ``DynamoDB_20120810.PutItem``."""
    body = json.dumps({"TableName": table, "Item": item}, separators=(",", ":")).encode()
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))  # the device's clock (NTP/RTC)
    day = amz_date[:8]
    target = "DynamoDB_20120810.PutItem"
    content_type = "application/x-amz-json-1.0"
    payload_hash = hashlib.sha256(body).hexdigest()

    # 1. The canonical request: method, path, query, sorted lower-case headers, signed names.
    signed_headers = "content-type;host;x-amz-date;x-amz-target"
    canonical_request = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type}",
            f"host:{host}",
            f"x-amz-date:{amz_date}",
            f"x-amz-target:{target}",
            "",
            signed_headers,
            payload_hash,
        ]
    )
    # 2. The string to sign.
    scope = f"{day}/{REGION}/{SERVICE}/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    # 3. The signing key (cacheable for the day) and the signature.
    key = _hmac(("AWS4" + secret_key).encode(), day)
    key = _hmac(key, REGION)
    key = _hmac(key, SERVICE)
    key = _hmac(key, "aws4_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()

    headers = {
        "Host": host,
        "Content-Type": content_type,
        "X-Amz-Date": amz_date,
        "X-Amz-Target": target,
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        ),
        "Content-Length": str(len(body)),
    }
    return headers, body


def put_item(
    endpoint: str, access_key: str, secret_key: str, table: str, item: dict[str, object]
) -> tuple[int, bytes]:
    """Send the PutItem; returns the status and body of the answer. Prints the raw request."""
    url = urlsplit(endpoint)
    assert url.hostname is not None  # noqa: S101
    host = url.netloc  # with the port when there is one: it is what the Host header carries
    headers, body = signed_put_item(host, access_key, secret_key, table, item, time.time())
    print("POST / HTTP/1.1")
    for name, value in headers.items():
        print(f"{name}: {value}")
    print()
    print(body.decode())
    connection_class = (
        http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(url.hostname, url.port, timeout=10)
    try:
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def main(argv: list[str]) -> int:
    endpoint, access_key, secret_key, table, device = argv[1:6]
    item = {
        "device": {"S": device},
        "time": {"N": str(int(time.time()))},
        "data": {"S": "0102030405060708"},
        "temperature": {"N": "21.5"},
    }
    status, answer = put_item(endpoint, access_key, secret_key, table, item)
    print()
    print(status, answer.decode())
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
