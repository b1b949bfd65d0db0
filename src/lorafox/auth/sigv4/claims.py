"""Parsing what a client claims: the ``Authorization`` header and presigned query parameters."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import unquote

from lorafox.auth.sigv4.canonical import (
    _parse_amz_date,
    _signed_names,
)
from lorafox.auth.sigv4.model import (
    _AUTH_FIELDS,
    _ECHO,
    _HEX,
    _PRESIGN_MARKERS,
    _PRESIGN_NAMES,
    _SIGNATURE_PARAM,
    _TERMINATOR,
    ALGORITHM,
    MAX_PRESIGN_EXPIRES,
    IncompleteSignature,
    SignatureParams,
)


def _parse_credential(value: str) -> tuple[str, str, str, str]:
    parts = value.split("/")
    if len(parts) != 5 or not all(parts):
        raise IncompleteSignature(
            "Credential should be <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request."
        )
    access_key_id, date, region, service, terminator = parts
    if terminator != _TERMINATOR:
        raise IncompleteSignature(
            f"Credential should be scoped with a valid terminator: 'aws4_request', "
            f"not {terminator[:_ECHO]!r}."
        )
    if len(date) != 8 or not date.isascii() or not date.isdigit():
        raise IncompleteSignature(f"Credential scope date must be YYYYMMDD, not {date[:_ECHO]!r}.")
    return access_key_id, date, region, service


def _parse_signed_headers(value: str) -> tuple[str, ...]:
    names = _signed_names(value.split(";"))
    if not names or not names[0]:
        raise IncompleteSignature("SignedHeaders must be header names separated by ';'.")
    return names


def _check_signature(value: str) -> str:
    if len(value) != 64 or not _HEX.issuperset(value):
        raise IncompleteSignature("Signature must be 64 hexadecimal characters.")
    return value.lower()


_AROUND_EQUALS = re.compile(r"\s*=\s*")
_SEPARATORS = re.compile(r"[\s,]+")


def parse_authorization(value: str) -> SignatureParams:
    """Parse ``AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…``.

    The parameters are separated by commas, by whitespace or by both (as DynamoDB reads them:
    ``Credential=… SignedHeaders=… Signature=…`` is the same header), whitespace around ``=``
    may vary and the parameters may come in any order; anything else (another algorithm, a
    missing, repeated or unknown parameter, a malformed credential) raises
    :class:`IncompleteSignature`.
    """
    scheme_and_rest = value.strip().split(None, 1)
    if not scheme_and_rest:
        raise IncompleteSignature("The Authorization header is empty.")
    if scheme_and_rest[0] != ALGORITHM:
        raise IncompleteSignature(f"Unsupported Authorization type: only {ALGORITHM} is accepted.")
    fields: dict[str, str] = {}
    rest = scheme_and_rest[1] if len(scheme_and_rest) == 2 else ""
    for item in _SEPARATORS.split(_AROUND_EQUALS.sub("=", rest)):
        if not item:
            continue
        key, eq, val = item.partition("=")
        if not eq:
            raise IncompleteSignature(
                "Invalid key=value pair (missing equal-sign) in Authorization header."
            )
        if key not in _AUTH_FIELDS:
            raise IncompleteSignature(f"Unknown parameter {key[:_ECHO]!r} in Authorization header.")
        if key in fields:
            raise IncompleteSignature(f"Parameter {key!r} is repeated in Authorization header.")
        fields[key] = val
    missing = [
        name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)
    ]
    if missing:
        raise IncompleteSignature(
            " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
        )
    access_key_id, date, region, service = _parse_credential(fields["Credential"])
    return SignatureParams(
        access_key_id=access_key_id,
        scope_date=date,
        region=region,
        service=service,
        signed_headers=_parse_signed_headers(fields["SignedHeaders"]),
        signature=_check_signature(fields["Signature"]),
    )


def _presign_params(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]] | None:
    """The decoded ``X-Amz-*`` auth parameters of the query, or None without presigning."""
    found: dict[str, list[str]] = {}
    for raw_name, raw_value in pairs:
        name = unquote(raw_name) if "%" in raw_name else raw_name
        if name in _PRESIGN_NAMES:
            found.setdefault(name, []).append(unquote(raw_value))
    if any(marker in found for marker in _PRESIGN_MARKERS):
        return found
    return None


def _one(params: dict[str, list[str]], name: str) -> str:
    values = params.get(name)
    if not values or not values[0]:
        raise IncompleteSignature(f"AWS query-string parameters must include '{name}'.")
    if len(values) > 1:
        raise IncompleteSignature(f"The query parameter '{name}' is repeated.")
    return values[0]


def _parse_presigned(
    params: dict[str, list[str]],
) -> tuple[SignatureParams, str, datetime, int, str | None]:
    if _one(params, "X-Amz-Algorithm") != ALGORITHM:
        raise IncompleteSignature(f"Unsupported X-Amz-Algorithm: only {ALGORITHM} is accepted.")
    access_key_id, date, region, service = _parse_credential(_one(params, "X-Amz-Credential"))
    stamp = _one(params, "X-Amz-Date")
    when = _parse_amz_date(stamp)
    if when is None:
        raise IncompleteSignature(
            f"X-Amz-Date must be in the ISO-8601 'basic format' (YYYYMMDDTHHMMSSZ). "
            f"Got {stamp[:_ECHO]!r}."
        )
    expires_text = _one(params, "X-Amz-Expires")
    expires = int(expires_text) if expires_text.isascii() and expires_text.isdigit() else 0
    if not 1 <= expires <= MAX_PRESIGN_EXPIRES:
        raise IncompleteSignature(
            f"X-Amz-Expires must be a number of seconds from 1 to {MAX_PRESIGN_EXPIRES}."
        )
    signed = _parse_signed_headers(_one(params, "X-Amz-SignedHeaders"))
    signature = _check_signature(_one(params, _SIGNATURE_PARAM))
    tokens = params.get("X-Amz-Security-Token")
    if tokens is not None and len(tokens) > 1:
        raise IncompleteSignature("The query parameter 'X-Amz-Security-Token' is repeated.")
    claimed = SignatureParams(access_key_id, date, region, service, signed, signature)
    return claimed, stamp, when, expires, tokens[0] if tokens else None
