"""Canonicalisation: the canonical URI, query, headers and request, the string to sign, the
signing key, and request dates."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote_from_bytes, unquote_to_bytes

from lorafox.auth.sigv4.model import (
    _ECHO,
    _SIGNATURE_PARAM,
    _TERMINATOR,
    ALGORITHM,
    IncompleteSignature,
    SigV4Request,
)


def _header_map(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in headers:
        key = name.lower()
        values = found.get(key)
        if values is None:
            found[key] = [value]
        else:
            values.append(value)
    return found


def _remove_dot_segments(path: str) -> str:
    kept: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if kept:
                kept.pop()
        else:
            kept.append(segment)
    if not kept:
        return "/"
    return "/" + "/".join(kept) + ("/" if path.endswith("/") else "")


def canonical_uri(raw_path: str) -> str:
    """The canonical URI of a raw path: normalised, then each segment URI-encoded."""
    if not raw_path.startswith("/") or "//" in raw_path or "/." in raw_path:
        raw_path = _remove_dot_segments(raw_path)
    return quote_from_bytes(raw_path.encode("utf-8", "surrogateescape"), safe="/")


def _uri_encode(component: str) -> str:
    raw = component.encode("utf-8", "surrogateescape")
    if b"%" in raw:
        raw = unquote_to_bytes(raw)
    return quote_from_bytes(raw, safe="")


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """(name, value) pairs still percent-encoded; ``name`` alone gives ``(name, "")``."""
    pairs: list[tuple[str, str]] = []
    if raw_query:
        for part in raw_query.split("&"):
            if part:
                name, _, value = part.partition("=")
                pairs.append((name, value))
    return pairs


def _canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    encoded = [(_uri_encode(name), _uri_encode(value)) for name, value in pairs]
    encoded.sort()
    return "&".join([f"{name}={value}" for name, value in encoded if name != _SIGNATURE_PARAM])


def canonical_query(raw_query: str) -> str:
    """The canonical query string of a raw query string (``X-Amz-Signature`` left out)."""
    return _canonical_query(_query_pairs(raw_query))


def _canonical_headers(header_map: dict[str, list[str]], names: Sequence[str]) -> str:
    lines: list[str] = []
    for name in names:
        values = header_map[name]
        if len(values) == 1:
            value = " ".join(values[0].split())
        else:
            value = ",".join([" ".join(v.split()) for v in values])
        lines.append(f"{name}:{value}\n")
    return "".join(lines)


def _payload_hash(header_map: dict[str, list[str]], body: bytes) -> str:
    declared = header_map.get("x-amz-content-sha256")
    if declared:
        return declared[0].strip()
    return hashlib.sha256(body).hexdigest()


def _signed_names(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({name.strip().lower() for name in names}))


def _canonical_request(
    request: SigV4Request,
    header_map: dict[str, list[str]],
    query_pairs: Iterable[tuple[str, str]],
    signed: Sequence[str],
    payload_hash: str,
) -> str:
    return "\n".join(
        (
            request.method,
            canonical_uri(request.path),
            _canonical_query(query_pairs),
            _canonical_headers(header_map, signed),
            ";".join(signed),
            payload_hash,
        )
    )


def _select_signed(
    header_map: dict[str, list[str]], signed_headers: Iterable[str] | None
) -> tuple[str, ...]:
    if signed_headers is None:
        return tuple(sorted(name for name in header_map if name != "authorization"))
    signed = _signed_names(signed_headers)
    for name in signed:
        if name not in header_map:
            raise ValueError(f"signed header {name!r} is not in the request")
    return signed


def canonical_request(request: SigV4Request, signed_headers: Iterable[str] | None = None) -> str:
    """The canonical request; ``signed_headers`` default to every header but Authorization."""
    header_map = _header_map(request.headers)
    signed = _select_signed(header_map, signed_headers)
    return _canonical_request(
        request,
        header_map,
        _query_pairs(request.query),
        signed,
        _payload_hash(header_map, request.body),
    )


def credential_scope(date: str, region: str, service: str) -> str:
    """``YYYYMMDD/region/service/aws4_request``."""
    return f"{date}/{region}/{service}/{_TERMINATOR}"


def string_to_sign(canonical: str, *, timestamp: str, scope: str) -> str:
    """The string to sign for a canonical request, its ``YYYYMMDDTHHMMSSZ`` time and scope."""
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """The key derived from the secret for one day, region and service."""
    key = hmac.digest(f"AWS4{secret_key}".encode(), date.encode(), "sha256")
    key = hmac.digest(key, region.encode(), "sha256")
    key = hmac.digest(key, service.encode(), "sha256")
    return hmac.digest(key, _TERMINATOR.encode(), "sha256")


def _signature(key: bytes, timestamp: str, region: str, service: str, canonical: str) -> str:
    scope = credential_scope(timestamp[:8], region, service)
    sts = string_to_sign(canonical, timestamp=timestamp, scope=scope)
    return hmac.digest(key, sts.encode(), "sha256").hex()


# --- dates ----------------------------------------------------------------------------------


def amz_date(moment: datetime) -> str:
    """``YYYYMMDDTHHMMSSZ`` (ISO 8601 basic format, UTC) for an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("amz_date needs an aware datetime")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _parse_amz_date(text: str) -> datetime | None:
    if (
        len(text) != 16
        or text[8] != "T"
        or text[15] != "Z"
        or not text.isascii()
        or not text[:8].isdigit()
        or not text[9:15].isdigit()
    ):
        return None
    try:
        return datetime.fromisoformat(text)  # the basic format, now that its shape is checked
    except ValueError:
        return None


def _request_timestamp(header_map: dict[str, list[str]]) -> tuple[str, datetime]:
    """(``YYYYMMDDTHHMMSSZ``, datetime) from ``X-Amz-Date``, else from ``Date``."""
    values = header_map.get("x-amz-date")
    if values:
        if len(values) > 1:
            raise IncompleteSignature("The request has more than one X-Amz-Date header.")
        stamp = values[0].strip()
        when = _parse_amz_date(stamp)
        if when is None:
            raise IncompleteSignature(
                f"X-Amz-Date must be in the ISO-8601 'basic format' (YYYYMMDDTHHMMSSZ). "
                f"Got {stamp[:_ECHO]!r}."
            )
        return stamp, when
    values = header_map.get("date")
    if values:
        if len(values) > 1:
            raise IncompleteSignature("The request has more than one Date header.")
        try:
            when = parsedate_to_datetime(values[0].strip())
        except (TypeError, ValueError):
            raise IncompleteSignature(
                f"The Date header is not an HTTP date. Got {values[0][:_ECHO]!r}."
            ) from None
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        return amz_date(when), when
    raise IncompleteSignature(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )
