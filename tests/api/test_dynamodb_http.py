"""The HTTP rules of the table API that need no server: ``Accept-Encoding`` negotiation, gzip
bodies, the CORS headers and the host of the health answer."""

from __future__ import annotations

import gzip
import zlib

import pytest

from lorafox.api.dynamodb_http import (
    RequestEntityTooLargeException,
    compress,
    cors_headers,
    decoded_body,
    health_host,
    response_coding,
)
from lorafox.tables.errors import InternalServerError


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("", None),
        ("identity", None),
        ("br", None),
        ("x-gzip", None),
        ("gzip, deflate", "gzip"),
        ("br, identity, deflate, gzip", "deflate"),  # the first named wins at equal weights
        ("GZIP, identity", "gzip"),
        ("dog, gzip ,, cat", "gzip"),
        ("gzip;q=0.8, deflate;q=0.5", "gzip"),
        ("br, gzip;q=0, deflate; q = 0.5 , identity;q=0", "deflate"),
        ("*", "gzip"),
        ("*, deflate;q=0.5", "gzip"),
        ("*, deflate", "deflate"),  # named beats *
        ("*, identity", "gzip"),
        ("*, gzip;q=0.5", "deflate"),
        ("gzip ;q=0", None),
        ("gzip;q=abc", None),
    ],
)
def test_response_coding(accept: str, coding: str | None) -> None:
    assert response_coding(accept) == coding


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_compress(coding: str) -> None:
    body = b'{"Item": {}}' * 1000
    packed = compress(body, coding)
    assert len(packed) < len(body) // 10
    assert (gzip.decompress(packed) if coding == "gzip" else zlib.decompress(packed)) == body


def test_decoded_body() -> None:
    body = b'{"TableName": "t"}'
    assert decoded_body(body, "") == body
    assert decoded_body(body, "identity") == body
    assert decoded_body(gzip.compress(body), "gzip") == body
    assert decoded_body(gzip.compress(body), " GZIP ") == body
    assert decoded_body(gzip.compress(body[:5]) + gzip.compress(body[5:]), "gzip") == body
    assert decoded_body(gzip.compress(b"x" * 100), "gzip", limit=100) == b"x" * 100
    with pytest.raises(RequestEntityTooLargeException) as caught:
        decoded_body(gzip.compress(b"x" * 101), "gzip", limit=100)
    assert caught.value.status == 413 and not caught.value.unread
    for broken in (b"", body, gzip.compress(body)[:-1], gzip.compress(body) + b"junk"):
        with pytest.raises(InternalServerError, match="not valid gzip"):
            decoded_body(broken, "gzip")
    for coding in ("br", "deflate", "gzip, gzip", "compress"):
        with pytest.raises(InternalServerError, match="is not supported"):
            decoded_body(body, coding)


def test_cors_headers() -> None:
    assert cors_headers(False, True, "x-amz-date") == []
    simple = dict(cors_headers(True, False, None))
    assert simple == {
        b"access-control-allow-origin": b"*",
        b"access-control-expose-headers": b"x-amzn-RequestId, x-amz-crc32",
    }
    preflight = dict(cors_headers(True, True, "X-Amz-Date, bad header, x-amz-target"))
    assert preflight[b"access-control-allow-headers"] == b"X-Amz-Date, x-amz-target"
    assert b"access-control-allow-credentials" not in preflight
    assert (
        b"amz-sdk-request" in dict(cors_headers(True, True, None))[b"access-control-allow-headers"]
    )


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("dynamodb.us-east-1.amazonaws.com", "dynamodb.us-east-1.amazonaws.com"),
        ("127.0.0.1:8080", "127.0.0.1"),
        ("[::1]:8080", "[::1]"),
        ("<b>x</b>:80", "bxb"),
        ("", "localhost"),
        ("a" * 300, "a" * 253),
    ],
)
def test_health_host(host: str, shown: str) -> None:
    assert health_host(host) == shown
