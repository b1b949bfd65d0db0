"""AWS Signature Version 4 (``AWS4-HMAC-SHA256``): verify signed requests, sign our own.

Framework-free on purpose: the DynamoDB-compatible table API, the AWS IoT rules API and the
HTTPS publish endpoint all hand over a :class:`SigV4Request` (method, raw path, raw query,
headers as received, body) and get a :class:`SigV4Identity` back, or a :class:`SigV4Error`.

How :meth:`SigV4Verifier.verify` decides, cheapest checks first:

1. **Find the credentials**: the ``Authorization`` header (``AWS4-HMAC-SHA256
   Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date,
   Signature=…``; commas, spaces or both between the parameters) or presigned query parameters
   (``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``, ``X-Amz-Expires``,
   ``X-Amz-SignedHeaders``, ``X-Amz-Signature``). Neither:
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

from lorafox.auth.sigv4 import model
from lorafox.auth.sigv4.canonical import (
    amz_date,
    canonical_query,
    canonical_request,
    canonical_uri,
    credential_scope,
    signing_key,
    string_to_sign,
)
from lorafox.auth.sigv4.claims import (
    parse_authorization,
)
from lorafox.auth.sigv4.model import *  # noqa: F403 (the model's names, listed once there)
from lorafox.auth.sigv4.signing import (
    presign,
    sign,
)
from lorafox.auth.sigv4.verifier import (
    SigV4Verifier,
)

__all__ = [
    "SigV4Verifier",
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
__all__ += model.__all__
