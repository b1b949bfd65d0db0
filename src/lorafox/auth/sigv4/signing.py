"""Signing requests (``sign``, ``presign``): what clients do, for tests and tools."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from urllib.parse import quote

from lorafox.auth.sigv4.canonical import (
    _canonical_request,
    _header_map,
    _payload_hash,
    _query_pairs,
    _request_timestamp,
    _select_signed,
    _signature,
    amz_date,
    credential_scope,
    signing_key,
)
from lorafox.auth.sigv4.claims import (
    _presign_params,
)
from lorafox.auth.sigv4.model import (
    _SIGNATURE_PARAM,
    ALGORITHM,
    MAX_PRESIGN_EXPIRES,
    IncompleteSignature,
    SigV4Request,
)


def sign(
    request: SigV4Request,
    *,
    access_key_id: str,
    secret_key: str,
    region: str,
    service: str,
    signed_headers: Iterable[str] | None = None,
) -> str:
    """The ``Authorization`` header value for ``request``.

    The request must carry ``Host`` and ``X-Amz-Date`` (or ``Date``; see :func:`amz_date`);
    ``signed_headers`` default to every header in it but ``Authorization``.
    """
    header_map = _header_map(request.headers)
    try:
        stamp, _ = _request_timestamp(header_map)
    except IncompleteSignature as exc:
        raise ValueError(exc.message) from None
    signed = _select_signed(header_map, signed_headers)
    if "host" not in signed:
        raise ValueError("the Host header must be signed")
    canonical = _canonical_request(
        request,
        header_map,
        _query_pairs(request.query),
        signed,
        _payload_hash(header_map, request.body),
    )
    key = signing_key(secret_key, stamp[:8], region, service)
    signature = _signature(key, stamp, region, service, canonical)
    scope = credential_scope(stamp[:8], region, service)
    return (
        f"{ALGORITHM} Credential={access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={signature}"
    )


def presign(
    request: SigV4Request,
    *,
    access_key_id: str,
    secret_key: str,
    region: str,
    service: str,
    timestamp: datetime,
    expires: int = 3600,
    signed_headers: Iterable[str] | None = None,
    security_token: str | None = None,
) -> str:
    """The query string that makes ``request`` a presigned request (auth parameters appended).

    The payload hash is the ``X-Amz-Content-Sha256`` header's value or the body's SHA-256
    (``UNSIGNED-PAYLOAD`` is S3's convention, not used here).
    """
    if not 1 <= expires <= MAX_PRESIGN_EXPIRES:
        raise ValueError(f"expires must be from 1 to {MAX_PRESIGN_EXPIRES} seconds")
    pairs = _query_pairs(request.query)
    if _presign_params(pairs) is not None:
        raise ValueError("the request is presigned already")
    header_map = _header_map(request.headers)
    signed = _select_signed(header_map, signed_headers)
    if "host" not in signed:
        raise ValueError("the Host header must be signed")
    stamp = amz_date(timestamp)
    auth = [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{access_key_id}/{credential_scope(stamp[:8], region, service)}"),
        ("X-Amz-Date", stamp),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", ";".join(signed)),
    ]
    if security_token is not None:
        auth.append(("X-Amz-Security-Token", security_token))
    encoded = "&".join([f"{name}={quote(value, safe='')}" for name, value in auth])
    query = f"{request.query}&{encoded}" if request.query else encoded
    canonical = _canonical_request(
        request, header_map, _query_pairs(query), signed, _payload_hash(header_map, request.body)
    )
    key = signing_key(secret_key, stamp[:8], region, service)
    signature = _signature(key, stamp, region, service, canonical)
    return f"{query}&{_SIGNATURE_PARAM}={signature}"
