"""``SigV4Verifier``: checking a request from its headers first, then its signature."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from lorafox.auth.sigv4.canonical import (
    _canonical_request,
    _header_map,
    _query_pairs,
    _request_timestamp,
    _signature,
    amz_date,
    signing_key,
)
from lorafox.auth.sigv4.claims import (
    _parse_presigned,
    _presign_params,
    parse_authorization,
)
from lorafox.auth.sigv4.model import (
    _ECHO,
    _HEX,
    _KEY_CACHE_SIZE,
    _UNSIGNED_OK,
    MAX_SKEW,
    SIGNATURE_MISMATCH,
    UNSIGNED_PAYLOAD,
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    SecretLookup,
    SignatureExpired,
    SignatureParams,
    SigV4Identity,
    SigV4Request,
    UnrecognizedClient,
    _Claim,
)


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
