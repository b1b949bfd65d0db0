"""The vocabulary of SigV4: constants, the errors (each with AWS's wording), and the request,
parameters and identity values."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar, Final

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
    "SignatureExpired",
    "SignatureParams",
    "UnrecognizedClient",
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
