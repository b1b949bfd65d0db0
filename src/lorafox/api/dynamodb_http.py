"""The HTTP level of the DynamoDB endpoint on ``/``, as DynamoDB's regional endpoint answers it.

- **Bodies**: at most ``MAX_REQUEST_BYTES`` (16 MiB) on the wire and, for a
  ``Content-Encoding: gzip`` request, once decompressed (:func:`decoded_body` stops inflating at
  the limit: a small compressed body cannot expand into memory); larger: 413
  (:class:`RequestEntityTooLargeException`). A body that is not gzip, or another encoding, is a
  500 ``InternalServerError`` with a message saying why, as DynamoDB answers both.
- **Compressed answers**: gzip or deflate, as the request's ``Accept-Encoding`` prefers
  (:func:`response_coding`), for bodies over ``COMPRESS_ABOVE`` bytes (DynamoDB's 4 KiB);
  ``x-amz-crc32`` is then the CRC32 of the compressed body, as DynamoDB's.
- **CORS** (:func:`cors_headers`): with an ``Origin``, answers allow any origin and expose
  ``x-amzn-RequestId`` and ``x-amz-crc32``; a preflight (``OPTIONS /``) needs no signature and
  allows the headers it asks for (DynamoDB echoes them), or those the AWS SDK for JavaScript
  sends when it asks for none. No credentials are ever allowed: a browser sends no cookie.
- **Health**: ``GET /`` answers ``healthy: <host>`` (:func:`health_host`), unless the caller is
  a browser (``Accept`` with ``text/html``), which is sent to the API docs.
"""

from __future__ import annotations

import re
import zlib
from typing import ClassVar

from lorafox.tables.errors import CORAL_SERVICE, DynamoDBError, InternalServerError

__all__ = [
    "COMPRESS_ABOVE",
    "MAX_REQUEST_BYTES",
    "RequestEntityTooLargeException",
    "compress",
    "cors_headers",
    "decoded_body",
    "health_host",
    "response_coding",
]

MAX_REQUEST_BYTES = 16 * 1024 * 1024
COMPRESS_ABOVE = 4096
"""Answers larger than this many bytes are compressed when the client accepts it (DynamoDB's
threshold)."""

_SDK_HEADERS = (
    "authorization, content-type, content-encoding, x-amz-date, x-amz-target, x-amz-user-agent, "
    "x-amz-security-token, x-amz-content-sha256, amz-sdk-invocation-id, amz-sdk-request"
)
"""What the AWS SDK for JavaScript sends to DynamoDB (allowed when a preflight names none)."""
_EXPOSED = b"x-amzn-RequestId, x-amz-crc32"
_METHODS = b"GET, POST, OPTIONS"
_MAX_AGE = b"86400"
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HOST = re.compile(r"[^A-Za-z0-9.\-_\[\]:]")
_CODINGS = ("gzip", "deflate")
_LEVEL = 1
"""zlib's fastest level: answers are compressed on the event loop (a 1 MB Query page in about
10 ms), for most of the gain of the slower levels."""


class RequestEntityTooLargeException(DynamoDBError, namespace=CORAL_SERVICE):
    """The request body is larger than the endpoint takes (HTTP 413)."""

    status: ClassVar[int] = 413
    default_message = f"Request body larger than {MAX_REQUEST_BYTES} bytes"

    def __init__(self, message: str | None = None, *, unread: bool = False) -> None:
        super().__init__(message)
        self.unread = unread
        """Part of the body is left unread: the answer closes the connection."""


def decoded_body(body: bytes, content_encoding: str, limit: int = MAX_REQUEST_BYTES) -> bytes:
    """``body`` decoded as its ``Content-Encoding`` says (none, ``identity`` or ``gzip``,
    several gzip members one after the other included), ``limit`` bytes at most."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return body
    if codings != ["gzip"]:
        shown = content_encoding.strip()[:40]
        raise InternalServerError(
            f"Content-Encoding {shown!r} is not supported: send gzip, or no Content-Encoding."
        )
    return _gunzip(body, limit)


def _gunzip(body: bytes, limit: int) -> bytes:
    broken = "The request body is not valid gzip data (Content-Encoding: gzip)."
    if not body:
        raise InternalServerError(broken)
    out: list[bytes] = []
    size = 0
    rest = body
    while rest:  # one gzip member a turn
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = rest
        while True:
            try:
                piece = inflater.decompress(data, limit - size + 1)  # never more than the limit
            except zlib.error:
                raise InternalServerError(broken) from None
            size += len(piece)
            if size > limit:
                raise RequestEntityTooLargeException(
                    f"Request body larger than {limit} bytes once decompressed"
                )
            out.append(piece)
            if inflater.eof:
                break
            data = inflater.unconsumed_tail
            if not data and not piece:  # the input ended before the member did
                raise InternalServerError(broken)
        rest = inflater.unused_data
    return b"".join(out)


def _qualities(accept_encoding: str) -> list[tuple[str, float]]:
    """``Accept-Encoding``'s codings with their weights, in the order listed."""
    found: list[tuple[str, float]] = []
    for item in accept_encoding.split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        if not name:
            continue
        quality = 1.0
        for param in params.split(";"):
            key, eq, value = param.partition("=")
            if eq and key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        found.append((name, quality))
    return found


def response_coding(accept_encoding: str) -> str | None:
    """The coding (``gzip`` or ``deflate``) to compress an answer with, or None: the highest
    weight wins; at equal weights a coding named first beats a later one and one named beats
    ``*`` (which means gzip, then deflate)."""
    listed = _qualities(accept_encoding)
    wildcard = next((q for name, q in listed if name == "*"), None)
    candidates: list[tuple[float, int, str]] = []
    for position, (name, quality) in enumerate(listed):
        if name in _CODINGS:
            candidates.append((quality, -position, name))
    named = {name for _, _, name in candidates}
    if wildcard is not None:
        for rank, name in enumerate(_CODINGS):
            if name not in named:
                candidates.append((wildcard, -len(listed) - rank, name))
    best = max(candidates, default=None)
    if best is None or best[0] <= 0:
        return None
    return best[2]


def compress(body: bytes, coding: str) -> bytes:
    """``body`` compressed with ``coding`` (``gzip`` or ``deflate``, zlib-wrapped as HTTP
    means it)."""
    if coding == "gzip":
        packer = zlib.compressobj(_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    else:
        packer = zlib.compressobj(_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS)
    return packer.compress(body) + packer.flush()


def cors_headers(
    origin: bool, preflight: bool, requested_headers: str | None
) -> list[tuple[bytes, bytes]]:
    """The CORS headers of an answer: none without an ``Origin``; ``preflight`` adds what an
    ``OPTIONS`` request is allowed (the requested header names, or the SDK's)."""
    if not origin:
        return []
    headers = [
        (b"access-control-allow-origin", b"*"),
        (b"access-control-expose-headers", _EXPOSED),
    ]
    if preflight:
        names = [n.strip() for n in (requested_headers or "").split(",") if n.strip()]
        allowed = ", ".join(n for n in names if _TOKEN.fullmatch(n)) or _SDK_HEADERS
        headers += [
            (b"access-control-allow-methods", _METHODS),
            (b"access-control-allow-headers", allowed.encode("latin-1")),
            (b"access-control-max-age", _MAX_AGE),
        ]
    return headers


def health_host(host_header: str) -> str:
    """The host part of a ``Host`` header (no port), with nothing but the characters of a host
    name or an IP address, at most 253 of them."""
    value = host_header.strip()
    if value.startswith("["):  # an IPv6 literal
        value = value[: value.find("]") + 1] if "]" in value else value
    else:
        value = value.rsplit(":", 1)[0]
    return _HOST.sub("", value)[:253] or "localhost"
