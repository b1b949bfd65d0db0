"""AWS Signature Version 4 (``AWS4-HMAC-SHA256``): verify signed requests, sign our own.

Framework-free on purpose: the DynamoDB-compatible table API, the AWS IoT rules API and the
HTTPS publish endpoint all hand over a :class:`SigV4Request` (method, raw path, raw query,
headers as received, body) and get a :class:`SigV4Identity` back, or a :class:`SigV4Error`.

How :meth:`SigV4Verifier.verify` decides, cheapest checks first:

1. **Find the credentials**: the ``Authorization`` header (``AWS4-HMAC-SHA256
   Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date,
   Signature=…``) or presigned query parameters (``X-Amz-Algorithm``, ``X-Amz-Credential``,
   ``X-Amz-Date``, ``X-Amz-Expires``, ``X-Amz-SignedHeaders``, ``X-Amz-Signature``). Neither:
   :class:`MissingAuthenticationToken`; both, or anything malformed: :class:`IncompleteSignature`.
2. **Check what needs no secret**: the request time (``X-Amz-Date``, else ``Date``; presigned:
   the ``X-Amz-Date`` parameter) is within ``max_skew`` (15 minutes) of the injected clock, and a
   presigned request has not outlived ``X-Amz-Expires`` (:class:`SignatureExpired`); the
   credential scope's date is the request's day and its region/service are the expected ones;
   ``host`` is signed and every signed header is present; an ``X-Amz-Content-Sha256`` header
   matches the body (:class:`InvalidSignature`).
3. **Look the secret up** through the injected async callable; ``None``:
   :class:`UnrecognizedClient`.
4. **Recompute** canonical request → string to sign → signature with the derived key
   (HMAC-SHA256 chain ``"AWS4" + secret`` → date → region → service → ``aws4_request``) and
   compare with :func:`hmac.compare_digest`; a difference: :class:`InvalidSignature`.

Canonicalisation follows the AWS spec and its test suite (``tests/data/aws4_testsuite``):

- **URI**: the path as on the wire, dot segments and duplicate slashes removed (a trailing slash
  kept), then every byte but ``A-Za-z0-9-._~`` and ``/`` percent-encoded. An already
  percent-encoded path is therefore encoded again (``%20`` → ``%2520``): that is what AWS does for
  every service but S3 and what the SDKs (botocore, the JS v3 signer) compute, since they sign
  the path they put on the wire.
- **Query**: each name and value percent-decoded then strictly re-encoded, sorted by name then
  value, ``name=`` for an empty value; ``X-Amz-Signature`` left out (presigned requests). A
  ``+`` is a literal plus (RFC 3986), not a space.
- **Headers**: names lower-cased and sorted; each value trimmed with inner whitespace runs
  (folded lines included) collapsed to one space; repeated headers joined with ``,`` in the order
  received.
- **Payload**: the ``X-Amz-Content-Sha256`` header value when present (a hex digest, or
  ``UNSIGNED-PAYLOAD`` when the verifier allows it), else the SHA-256 of the body.

The secret lookup is ``async`` (:data:`SecretLookup`): every caller is an async service whose
API users live in the store behind async SQLAlchemy, so the lookup may await the database
without blocking the loop or preloading every key; a cache-only lookup is a two-line coroutine,
and one await costs about a microsecond next to the hashing. It runs only after the checks
that need no secret, so replayed or malformed requests cost no database round trip.

:func:`sign` (an ``Authorization`` header) and :func:`presign` (a query string) build the same
canonical request through the same functions; lorafox's own outgoing calls and the tests use
them. A verifier caches derived signing keys per (secret, day, region, service).

Nothing here logs, and neither secrets nor signatures appear in error messages or reprs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import ClassVar, Final
from urllib.parse import quote, quote_from_bytes, unquote, unquote_to_bytes

from lorafox.errors import AuthenticationFailed

__all__ = [
    "ALGORITHM",
    "MAX_PRESIGN_EXPIRES",
    "MAX_SKEW",
    "SIGNATURE_MISMATCH",
    "UNSIGNED_PAYLOAD",
    "IncompleteSignature",
    "InvalidSignature",
    "MissingAuthenticationToken",
    "SecretLookup",
    "SigV4Error",
    "SigV4Identity",
    "SigV4Request",
    "SigV4Verifier",
    "SignatureExpired",
    "SignatureParams",
    "UnrecognizedClient",
    "amz_date",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "credential_scope",
    "parse_authorization",
    "presign",
    "sign",
    "signing_key",
    "string_to_sign",
]

ALGORITHM: Final = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD: Final = "UNSIGNED-PAYLOAD"
MAX_SKEW: Final = timedelta(minutes=15)
MAX_PRESIGN_EXPIRES: Final = 604_800  # seconds: a week, as AWS allows

SecretLookup = Callable[[str], Awaitable[str | None]]
"""Returns the secret access key for an access key id, or ``None`` when the id is unknown."""

SIGNATURE_MISMATCH: Final = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)

_TERMINATOR: Final = "aws4_request"
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_AUTH_FIELDS: Final = frozenset({"Credential", "SignedHeaders", "Signature"})
_PRESIGN_MARKERS: Final = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
_PRESIGN_NAMES: Final = frozenset(
    {
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    }
)
_SIGNATURE_PARAM: Final = "X-Amz-Signature"
_KEY_CACHE_SIZE: Final = 1024
_ECHO: Final = 64  # at most this many characters of client input are echoed in messages


# --- errors ---------------------------------------------------------------------------------


_UNSIGNED_OK: Final = frozenset({"x-amz-security-token"})


@dataclass(frozen=True, slots=True)
class _Claim:
    """What a request claims, checked but for its body and signature."""

    params: SignatureParams
    stamp: str
    when: datetime
    expires: int | None
    token: str | None
    secret: str


class SigV4Error(AuthenticationFailed):
    """A SigV4 check failed; ``code`` is the error type DynamoDB answers with."""

    code: ClassVar[str] = "InvalidSignatureException"


class MissingAuthenticationToken(SigV4Error):
    """Neither an ``Authorization`` header nor presigned query parameters."""

    code: ClassVar[str] = "MissingAuthenticationTokenException"


class IncompleteSignature(SigV4Error):
    """The signature information is malformed, incomplete, or uses another algorithm."""

    code: ClassVar[str] = "IncompleteSignatureException"


class UnrecognizedClient(SigV4Error):
    """The access key id is unknown."""

    code: ClassVar[str] = "UnrecognizedClientException"


class InvalidSignature(SigV4Error):
    """The signature does not match, or the credential scope or payload hash is wrong."""

    code: ClassVar[str] = "InvalidSignatureException"


class SignatureExpired(InvalidSignature):
    """The request time is too far from now, or a presigned request has expired."""


# --- data -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SigV4Request:
    """An HTTP request as received.

    ``path`` is the raw path exactly as on the wire (percent-encoding preserved; from ASGI:
    ``scope["raw_path"].decode("utf-8", "surrogateescape")``), ``query`` the raw query string
    without ``?``, ``headers`` the (name, value) pairs as received: names in any case,
    repeats allowed, values possibly folded over several lines.
    """

    method: str
    path: str
    query: str = ""
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""

    @classmethod
    def from_target(
        cls,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> SigV4Request:
        """From a request target such as ``/path?query`` (the middle of the request line)."""
        path, _, query = target.partition("?")
        return cls(method, path, query, headers, body)


@dataclass(frozen=True, slots=True)
class SignatureParams:
    """What a request claims: credential scope, signed header names, signature."""

    access_key_id: str
    scope_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class SigV4Identity:
    """A verified request: who signed it, for which scope, when."""

    access_key_id: str
    region: str
    service: str
    timestamp: datetime
    signed_headers: tuple[str, ...]
    presigned: bool
    security_token: str | None = field(default=None, repr=False)


# --- canonicalisation -----------------------------------------------------------------------


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


# --- parsing what the client claims ---------------------------------------------------------


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


def parse_authorization(value: str) -> SignatureParams:
    """Parse ``AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…``.

    Whitespace around the separators may vary and the parameters may come in any order;
    anything else (another algorithm, a missing, repeated or unknown parameter, a malformed
    credential) raises :class:`IncompleteSignature`.
    """
    scheme_and_rest = value.strip().split(None, 1)
    if not scheme_and_rest:
        raise IncompleteSignature("The Authorization header is empty.")
    if scheme_and_rest[0] != ALGORITHM:
        raise IncompleteSignature(f"Unsupported Authorization type: only {ALGORITHM} is accepted.")
    fields: dict[str, str] = {}
    rest = scheme_and_rest[1] if len(scheme_and_rest) == 2 else ""
    for item in rest.split(","):
        if not item.strip():
            continue
        key, eq, val = item.partition("=")
        key = key.strip()
        if not eq:
            raise IncompleteSignature(
                "Invalid key=value pair (missing equal-sign) in Authorization header."
            )
        if key not in _AUTH_FIELDS:
            raise IncompleteSignature(f"Unknown parameter {key[:_ECHO]!r} in Authorization header.")
        if key in fields:
            raise IncompleteSignature(f"Parameter {key!r} is repeated in Authorization header.")
        fields[key] = val.strip()
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


# --- signing --------------------------------------------------------------------------------


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


# --- verification ---------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:g}"


class SigV4Verifier:
    """Verifies SigV4-signed requests against secrets from ``lookup_secret``.

    ``region`` / ``service``, when given, are the only credential scope accepted; ``clock``
    returns the current time (aware, UTC); ``allow_unsigned_payload`` accepts
    ``X-Amz-Content-Sha256: UNSIGNED-PAYLOAD`` (the body is then not authenticated).
    A failing ``lookup_secret`` propagates its own exception (a store error stays one).
    """

    __slots__ = (
        "_allow_unsigned",
        "_clock",
        "_keys",
        "_lookup",
        "_max_skew",
        "_region",
        "_service",
    )

    def __init__(
        self,
        lookup_secret: SecretLookup,
        *,
        region: str | None = None,
        service: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
        max_skew: timedelta = MAX_SKEW,
        allow_unsigned_payload: bool = False,
    ) -> None:
        self._lookup = lookup_secret
        self._region = region
        self._service = service
        self._clock = clock
        self._max_skew = max_skew
        self._allow_unsigned = allow_unsigned_payload
        # Derived keys by (secret, date, region, service): four HMACs saved per request; a
        # changed secret simply misses. Bounded by clearing, which costs one derivation per key.
        self._keys: dict[tuple[str, str, str, str], bytes] = {}

    async def verify(self, request: SigV4Request) -> SigV4Identity:
        """The identity behind ``request``, or a :class:`SigV4Error`."""
        header_map = _header_map(request.headers)
        pairs = _query_pairs(request.query)
        claim = await self._claim(header_map, pairs)
        claimed, stamp, signed = claim.params, claim.stamp, claim.params.signed_headers
        payload_hash = self._payload_hash(header_map, request.body)
        key = self._signing_key(claim.secret, claimed)
        canonical = _canonical_request(request, header_map, pairs, signed, payload_hash)
        expected = _signature(key, stamp, claimed.region, claimed.service, canonical)
        if not hmac.compare_digest(expected.encode(), claimed.signature.encode()):
            raise InvalidSignature(SIGNATURE_MISMATCH)
        return SigV4Identity(
            access_key_id=claimed.access_key_id,
            region=claimed.region,
            service=claimed.service,
            timestamp=claim.when,
            signed_headers=signed,
            presigned=claim.expires is not None,
            security_token=claim.token,
        )

    async def precheck(self, headers: Sequence[tuple[str, str]], query: str) -> None:
        """What can be checked before the body is read — the signature's form, scope, date,
        signed-header set and access key — so an unauthenticated client cannot make the server
        read a large body; :meth:`verify` checks the rest (and repeats these)."""
        await self._claim(_header_map(headers), _query_pairs(query))

    async def _claim(
        self, header_map: dict[str, list[str]], pairs: list[tuple[str, str]]
    ) -> _Claim:
        presigned = _presign_params(pairs)
        authorization = header_map.get("authorization")
        expires: int | None = None
        if authorization is not None and presigned is not None:
            raise IncompleteSignature(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter "
                "or the Authorization header should be specified."
            )
        if authorization is not None:
            if len(authorization) > 1:
                raise IncompleteSignature("The request has more than one Authorization header.")
            claimed = parse_authorization(authorization[0])
            stamp, when = _request_timestamp(header_map)
            tokens = header_map.get("x-amz-security-token")
            token = tokens[0].strip() if tokens else None
        elif presigned is not None:
            claimed, stamp, when, expires, token = _parse_presigned(presigned)
        else:
            raise MissingAuthenticationToken("Request is missing Authentication Token")

        self._check_scope(claimed, stamp)
        self._check_time(stamp, when, expires)
        signed = claimed.signed_headers
        if "host" not in signed:
            raise IncompleteSignature("'Host' must be a 'SignedHeader' in the AWS Authorization.")
        for name in header_map:
            # every x-amz-* header says what the request does (X-Amz-Target: the operation):
            # unsigned, it could be changed in transit. The session token may be added after
            # signing (AWS's own test suite does so).
            if name.startswith("x-amz-") and name not in signed and name not in _UNSIGNED_OK:
                raise IncompleteSignature(
                    f"'{name[:_ECHO]}' must be a 'SignedHeader' in the AWS Authorization."
                )
        for name in signed:
            if name not in header_map:
                raise InvalidSignature(
                    f"{SIGNATURE_MISMATCH} The signed header {name[:_ECHO]!r} "
                    "is not in the request."
                )
        secret = await self._lookup(claimed.access_key_id)
        if secret is None:
            raise UnrecognizedClient("The security token included in the request is invalid.")
        return _Claim(claimed, stamp, when, expires, token, secret)

    def _signing_key(self, secret: str, claimed: SignatureParams) -> bytes:
        cache_key = (secret, claimed.scope_date, claimed.region, claimed.service)
        key = self._keys.get(cache_key)
        if key is None:
            if len(self._keys) >= _KEY_CACHE_SIZE:
                self._keys.clear()
            key = signing_key(secret, claimed.scope_date, claimed.region, claimed.service)
            self._keys[cache_key] = key
        return key

    def _check_scope(self, claimed: SignatureParams, stamp: str) -> None:
        if claimed.scope_date != stamp[:8]:
            raise InvalidSignature(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{claimed.scope_date}' != '{stamp[:8]}', from '{stamp}'."
            )
        if self._region is not None and claimed.region != self._region:
            raise InvalidSignature(
                f"Credential should be scoped to a valid region, not {claimed.region[:_ECHO]!r}."
            )
        if self._service is not None and claimed.service != self._service:
            raise InvalidSignature(
                f"Credential should be scoped to correct service: '{self._service}'."
            )

    def _check_time(self, stamp: str, when: datetime, expires: int | None) -> None:
        now = self._clock()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        skew = self._max_skew
        if when > now + skew:
            raise SignatureExpired(
                f"Signature not yet current: {stamp} is still later than {amz_date(now + skew)} "
                f"({amz_date(now)} + {_minutes(skew)} min.)"
            )
        if expires is None:
            if when < now - skew:
                raise SignatureExpired(
                    f"Signature expired: {stamp} is now earlier than {amz_date(now - skew)} "
                    f"({amz_date(now)} - {_minutes(skew)} min.)"
                )
        elif now > when + timedelta(seconds=expires):
            raise SignatureExpired(
                f"Request has expired: signed at {stamp} for {expires} seconds, "
                f"it is now {amz_date(now)}."
            )

    def _payload_hash(self, header_map: dict[str, list[str]], body: bytes) -> str:
        declared = header_map.get("x-amz-content-sha256")
        if declared is None:
            return hashlib.sha256(body).hexdigest()
        if len(declared) > 1:
            raise IncompleteSignature("The request has more than one X-Amz-Content-Sha256 header.")
        value = declared[0].strip()
        if value == UNSIGNED_PAYLOAD:
            if not self._allow_unsigned:
                raise InvalidSignature(
                    "X-Amz-Content-Sha256: UNSIGNED-PAYLOAD is not accepted here; sign the payload."
                )
            return value
        if len(value) != 64 or not _HEX.issuperset(value):
            raise IncompleteSignature(
                "X-Amz-Content-Sha256 must be the payload's hex SHA-256 or UNSIGNED-PAYLOAD "
                "(streaming uploads are not supported)."
            )
        if value.lower() != hashlib.sha256(body).hexdigest():
            raise InvalidSignature(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )
        return value
