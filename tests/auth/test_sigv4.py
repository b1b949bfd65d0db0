"""SigV4: every case of the official AWS test suite, the failure modes, and botocore."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.auth  # type: ignore[import-untyped]
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from botocore.utils import percent_encode_sequence  # type: ignore[import-untyped]

from lorafox.api.errors import status_for
from lorafox.auth.sigv4 import (
    SIGNATURE_MISMATCH,
    UNSIGNED_PAYLOAD,
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    SignatureExpired,
    SigV4Error,
    SigV4Identity,
    SigV4Request,
    SigV4Verifier,
    UnrecognizedClient,
    amz_date,
    canonical_query,
    canonical_request,
    canonical_uri,
    credential_scope,
    parse_authorization,
    presign,
    sign,
    string_to_sign,
)
from lorafox.errors import AuthenticationFailed

SUITE = Path(__file__).resolve().parent.parent / "data" / "aws4_testsuite"
SUITE_AKID = "AKIDEXAMPLE"
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_REGION = "us-east-1"
SUITE_SERVICE = "service"
SUITE_STAMP = "20150830T123600Z"
SUITE_NOW = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
SUITE_CASES = sorted(path.with_suffix("") for path in SUITE.rglob("*.req"))

# The suite's one erratum. In get-vanilla-with-session-token the .req lacks the
# X-Amz-Security-Token header that the .creq/.sts/.authz were computed with, and the .sreq carries
# that header but get-vanilla's signature (5fa00fa3…) instead of the .authz one (07ec1639…).
# So this case is checked from the .sreq minus its Authorization header (which is the request
# the .creq describes), its .sreq is asserted to FAIL verification, and the request signed with
# the .authz value is asserted to pass.
SESSION_TOKEN_ERRATUM = "get-vanilla-with-session-token"

AKID = "AKIALORAFOXTEST00001"
SECRET = "lorafox/secret+key/for=tests0000000000000"
REGION = "eu-west-3"
NOW = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)
BODY = b'{"TableName":"messages","Key":{"device":{"S":"1A2B3C"}}}'


class Secrets:
    """An async secret lookup that records what it was asked."""

    def __init__(self, known: dict[str, str]) -> None:
        self.known = known
        self.calls: list[str] = []

    async def __call__(self, access_key_id: str) -> str | None:
        self.calls.append(access_key_id)
        return self.known.get(access_key_id)


def clock(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def parse_http(raw: bytes) -> SigV4Request:
    """A request from the suite's raw HTTP files (LF line ends, folded header lines)."""
    head, _, body = raw.partition(b"\n\n")
    lines = head.decode("utf-8").split("\n")
    method, _, rest = lines[0].partition(" ")
    target, _, _version = rest.rpartition(" ")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":  # obs-fold: continues the previous header's value
            name, value = headers[-1]
            headers[-1] = (name, f"{value}\n{line}")
        else:
            name, _, value = line.partition(":")
            headers.append((name, value))
    return SigV4Request.from_target(method, target, headers, body)


def without(request: SigV4Request, name: str) -> SigV4Request:
    return replace(request, headers=[h for h in request.headers if h[0].lower() != name.lower()])


def with_header(request: SigV4Request, name: str, value: str) -> SigV4Request:
    return replace(request, headers=[*request.headers, (name, value)])


def replace_header(request: SigV4Request, name: str, value: str) -> SigV4Request:
    return with_header(without(request, name), name, value)


def header(request: SigV4Request, name: str) -> str:
    return next(v for n, v in request.headers if n.lower() == name.lower())


def flip_last(text: str) -> str:
    return text[:-1] + ("1" if text[-1] == "0" else "0")


def suite_file(case: Path, suffix: str) -> str:
    return case.with_suffix(suffix).read_text(encoding="utf-8")


# --- the AWS test suite ----------------------------------------------------------------------


def test_the_whole_suite_is_here() -> None:
    assert (SUITE / "LICENSE").is_file() and (SUITE / "NOTICE").is_file()
    assert len(SUITE_CASES) == 34
    for case in SUITE_CASES:
        for suffix in (".creq", ".sts", ".authz", ".sreq"):
            assert case.with_suffix(suffix).is_file(), (case, suffix)


@pytest.mark.parametrize(
    "case", SUITE_CASES, ids=[str(case.parent.relative_to(SUITE)) for case in SUITE_CASES]
)
async def test_suite_case(case: Path) -> None:
    request = parse_http(case.with_suffix(".req").read_bytes())
    signed = parse_http(case.with_suffix(".sreq").read_bytes())
    if case.name == SESSION_TOKEN_ERRATUM:
        request = without(signed, "Authorization")

    creq = canonical_request(request)
    assert creq == suite_file(case, ".creq")
    scope = credential_scope(SUITE_STAMP[:8], SUITE_REGION, SUITE_SERVICE)
    assert string_to_sign(creq, timestamp=SUITE_STAMP, scope=scope) == suite_file(case, ".sts")
    authorization = sign(
        request,
        access_key_id=SUITE_AKID,
        secret_key=SUITE_SECRET,
        region=SUITE_REGION,
        service=SUITE_SERVICE,
    )
    assert authorization == suite_file(case, ".authz")

    verifier = SigV4Verifier(
        Secrets({SUITE_AKID: SUITE_SECRET}),
        region=SUITE_REGION,
        service=SUITE_SERVICE,
        clock=clock(SUITE_NOW),
    )
    if case.name == SESSION_TOKEN_ERRATUM:
        with pytest.raises(InvalidSignature, match="does not match"):
            await verifier.verify(signed)
        signed = with_header(request, "Authorization", authorization)
    identity = await verifier.verify(signed)
    assert identity.access_key_id == SUITE_AKID
    assert identity.region == SUITE_REGION and identity.service == SUITE_SERVICE
    assert identity.timestamp == SUITE_NOW
    assert ";".join(identity.signed_headers) in authorization
    assert not identity.presigned
    if "sts" in case.name or "session-token" in case.name:
        assert identity.security_token  # post-sts-header-after: present, though not signed
    else:
        assert identity.security_token is None


@pytest.mark.parametrize(
    "case", SUITE_CASES, ids=[str(case.parent.relative_to(SUITE)) for case in SUITE_CASES]
)
async def test_suite_requests_presigned(case: Path) -> None:
    request = parse_http(case.with_suffix(".req").read_bytes())
    query = presign(
        request,
        access_key_id=SUITE_AKID,
        secret_key=SUITE_SECRET,
        region=SUITE_REGION,
        service=SUITE_SERVICE,
        timestamp=SUITE_NOW,
        expires=60,
    )
    verifier = SigV4Verifier(Secrets({SUITE_AKID: SUITE_SECRET}), clock=clock(SUITE_NOW))
    identity = await verifier.verify(replace(request, query=query))
    assert identity.presigned and identity.access_key_id == SUITE_AKID


# --- canonicalisation details ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("/a/b/../c/./d//", "/a/c/d/"),
        ("/../..", "/"),
        ("/a%20b", "/a%2520b"),  # the wire form is encoded again, as AWS does but for S3
        ("/r\u00e9gle/x", "/r%C3%A9gle/x"),
        ("/a:b@c!$'()*+,;=", "/a%3Ab%40c%21%24%27%28%29%2A%2B%2C%3B%3D"),
        ("/~user/-._", "/~user/-._"),
    ],
)
def test_canonical_uri(raw: str, expected: str) -> None:
    assert canonical_uri(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("b=2&a=&a=1&c", "a=&a=1&b=2&c="),
        ("a=x+y", "a=x%2By"),  # '+' is a literal plus, not a space
        ("a=%e2%82%ac&%7E=%41", "a=%E2%82%AC&~=A"),  # decoded, re-encoded strictly, sorted
        ("k=a%20b&k=a b", "k=a%20b&k=a%20b"),
        ("Param-3=1&Param=2", "Param=2&Param-3=1"),  # sorted by name, then value
        ("a=1&&b=2", "a=1&b=2"),
        ("x=1&X-Amz-Signature=abc", "x=1"),
    ],
)
def test_canonical_query(raw: str, expected: str) -> None:
    assert canonical_query(raw) == expected


# --- helpers for the failure cases ----------------------------------------------------------


def unsigned_request(
    *,
    method: str = "POST",
    path: str = "/",
    query: str = "",
    body: bytes = BODY,
    when: datetime = NOW,
    extra: Sequence[tuple[str, str]] = (),
) -> SigV4Request:
    headers = [
        ("Host", "dynamodb.lorafox.test:8000"),
        ("X-Amz-Date", amz_date(when)),
        ("X-Amz-Target", "DynamoDB_20120810.GetItem"),
        ("Content-Type", "application/x-amz-json-1.0"),
        *extra,
    ]
    return SigV4Request(method, path, query, headers, body)


def signed_request(
    request: SigV4Request | None = None,
    *,
    secret: str = SECRET,
    region: str = REGION,
    service: str = "dynamodb",
    signed_headers: Sequence[str] | None = None,
) -> SigV4Request:
    """``request`` (default: ``unsigned_request()``) with its Authorization header."""
    request = request or unsigned_request()
    authorization = sign(
        request,
        access_key_id=AKID,
        secret_key=secret,
        region=region,
        service=service,
        signed_headers=signed_headers,
    )
    return with_header(request, "Authorization", authorization)


def verifier(
    *,
    now: datetime = NOW,
    secrets: Secrets | None = None,
    region: str | None = REGION,
    service: str | None = "dynamodb",
    allow_unsigned_payload: bool = False,
) -> SigV4Verifier:
    return SigV4Verifier(
        secrets or Secrets({AKID: SECRET}),
        region=region,
        service=service,
        clock=clock(now),
        allow_unsigned_payload=allow_unsigned_payload,
    )


async def test_signed_request_verifies() -> None:
    identity = await verifier().verify(signed_request())
    assert identity == SigV4Identity(
        access_key_id=AKID,
        region=REGION,
        service="dynamodb",
        timestamp=NOW,
        signed_headers=("content-type", "host", "x-amz-date", "x-amz-target"),
        presigned=False,
    )


def test_errors_carry_aws_codes_and_map_to_401() -> None:
    codes = {
        MissingAuthenticationToken: "MissingAuthenticationTokenException",
        IncompleteSignature: "IncompleteSignatureException",
        UnrecognizedClient: "UnrecognizedClientException",
        InvalidSignature: "InvalidSignatureException",
        SignatureExpired: "InvalidSignatureException",
    }
    for kind, code in codes.items():
        exc = kind("x")
        assert isinstance(exc, SigV4Error) and isinstance(exc, AuthenticationFailed)
        assert exc.code == code
        assert status_for(exc) == 401


async def test_missing_authentication() -> None:
    secrets = Secrets({AKID: SECRET})
    with pytest.raises(MissingAuthenticationToken) as caught:
        await verifier(secrets=secrets).verify(unsigned_request())
    assert caught.value.code == "MissingAuthenticationTokenException"
    assert caught.value.message == "Request is missing Authentication Token"
    assert secrets.calls == []


async def test_unknown_access_key() -> None:
    secrets = Secrets({"AKIASOMEONEELSE": SECRET})
    with pytest.raises(UnrecognizedClient) as caught:
        await verifier(secrets=secrets).verify(signed_request())
    assert caught.value.code == "UnrecognizedClientException"
    assert secrets.calls == [AKID]


async def test_wrong_secret() -> None:
    request = signed_request(secret="not-the-secret")
    with pytest.raises(InvalidSignature) as caught:
        await verifier().verify(request)
    assert type(caught.value) is InvalidSignature
    assert caught.value.code == "InvalidSignatureException"
    assert caught.value.message == SIGNATURE_MISMATCH
    signature = header(request, "Authorization").rsplit("=", 1)[1]
    assert signature not in str(caught.value) and SECRET not in str(caught.value)
    assert signature not in repr(parse_authorization(header(request, "Authorization")))


TAMPERINGS: dict[str, Callable[[SigV4Request], SigV4Request]] = {
    "body": lambda r: replace(r, body=r.body.replace(b"1A2B3C", b"1A2B3D")),
    "empty body": lambda r: replace(r, body=b""),
    "signed header": lambda r: replace_header(r, "X-Amz-Target", "DynamoDB_20120810.DeleteItem"),
    "host": lambda r: replace_header(r, "Host", "dynamodb.evil.test:8000"),
    "repeated signed header": lambda r: with_header(r, "X-Amz-Target", "DynamoDB_20120810.Scan"),
    "path": lambda r: replace(r, path="/other"),
    "query added": lambda r: replace(r, query="a=1"),
    "method": lambda r: replace(r, method="PUT"),
    "signature": lambda r: replace_header(
        r, "Authorization", flip_last(header(r, "Authorization"))
    ),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
async def test_tampered_request_fails(tamper: Callable[[SigV4Request], SigV4Request]) -> None:
    request = tamper(signed_request(unsigned_request(query="a=2&b=")))
    with pytest.raises(InvalidSignature) as caught:
        await verifier().verify(request)
    assert type(caught.value) is InvalidSignature
    assert caught.value.message == SIGNATURE_MISMATCH


async def test_tampered_query_value_fails() -> None:
    request = replace(signed_request(unsigned_request(query="a=2&b=")), query="a=3&b=")
    with pytest.raises(InvalidSignature, match="does not match"):
        await verifier().verify(request)


async def test_unsigned_headers_may_change() -> None:
    request = with_header(signed_request(), "User-Agent", "anything/1.0")
    assert (await verifier().verify(request)).access_key_id == AKID
    partly = signed_request(signed_headers=["Host", "X-Amz-Date", "X-Amz-Target"])
    identity = await verifier().verify(replace_header(partly, "Content-Type", "text/plain"))
    assert identity.signed_headers == ("host", "x-amz-date", "x-amz-target")


async def test_signed_header_missing_from_request() -> None:
    request = without(signed_request(), "X-Amz-Target")
    with pytest.raises(InvalidSignature, match="'x-amz-target' is not in the request"):
        await verifier().verify(request)


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (
            timedelta(minutes=-15, seconds=-1),
            "Signature expired: 20240517T091459Z is now earlier than 20240517T091500Z "
            "(20240517T093000Z - 15 min.)",
        ),
        (
            timedelta(minutes=15, seconds=1),
            "Signature not yet current: 20240517T094501Z is still later than 20240517T094500Z "
            "(20240517T093000Z + 15 min.)",
        ),
        (timedelta(hours=-30), "Signature expired"),
        (timedelta(days=2), "Signature not yet current"),
    ],
)
async def test_date_skew(offset: timedelta, message: str) -> None:
    secrets = Secrets({AKID: SECRET})
    with pytest.raises(SignatureExpired) as caught:
        await verifier(secrets=secrets).verify(signed_request(unsigned_request(when=NOW + offset)))
    assert caught.value.code == "InvalidSignatureException"
    assert caught.value.message.startswith(message)
    assert secrets.calls == []  # rejected before any lookup


@pytest.mark.parametrize("offset", [timedelta(minutes=-15), timedelta(minutes=15)])
async def test_date_skew_limit_is_inclusive(offset: timedelta) -> None:
    await verifier().verify(signed_request(unsigned_request(when=NOW + offset)))


async def test_scope_date_must_be_request_date() -> None:
    request = signed_request()
    authorization = header(request, "Authorization").replace("/20240517/", "/20240516/")
    with pytest.raises(InvalidSignature) as caught:
        await verifier().verify(replace_header(request, "Authorization", authorization))
    assert caught.value.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '20240516' != '20240517', from '20240517T093000Z'."
    )


async def test_scope_region_and_service_checked() -> None:
    with pytest.raises(InvalidSignature, match="valid region, not 'us-east-1'"):
        await verifier().verify(signed_request(region="us-east-1"))
    with pytest.raises(InvalidSignature, match="correct service: 'dynamodb'"):
        await verifier().verify(signed_request(service="iot"))
    identity = await verifier(region=None, service=None).verify(signed_request(service="iot"))
    assert identity.service == "iot"


GOOD_SIG = "a" * 64
NON_ASCII_SIG = "\u00e9" * 64
SCOPE = f"{AKID}/20240517/{REGION}/dynamodb/aws4_request"
MALFORMED = {
    "empty": "",
    "blank": "   ",
    "algorithm only": "AWS4-HMAC-SHA256",
    "no signature": f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host;x-amz-date",
    "no credential": f"AWS4-HMAC-SHA256 SignedHeaders=host, Signature={GOOD_SIG}",
    "empty signed headers": f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=, Signature=x",
    "missing equal sign": f"AWS4-HMAC-SHA256 Credential {SCOPE}, SignedHeaders=host",
    "repeated parameter": (
        f"AWS4-HMAC-SHA256 Credential={SCOPE}, Credential={SCOPE}, "
        f"SignedHeaders=host, Signature={GOOD_SIG}"
    ),
    "unknown parameter": (
        f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host, Signature={GOOD_SIG}, X=1"
    ),
    "short credential": (
        f"AWS4-HMAC-SHA256 Credential={AKID}/20240517/{REGION}/dynamodb, "
        f"SignedHeaders=host, Signature={GOOD_SIG}"
    ),
    "empty access key": (
        f"AWS4-HMAC-SHA256 Credential=/20240517/{REGION}/dynamodb/aws4_request, "
        f"SignedHeaders=host, Signature={GOOD_SIG}"
    ),
    "wrong terminator": (
        f"AWS4-HMAC-SHA256 Credential={AKID}/20240517/{REGION}/dynamodb/aws5_request, "
        f"SignedHeaders=host, Signature={GOOD_SIG}"
    ),
    "bad scope date": (
        f"AWS4-HMAC-SHA256 Credential={AKID}/2024-05-17/{REGION}/dynamodb/aws4_request, "
        f"SignedHeaders=host, Signature={GOOD_SIG}"
    ),
    "empty header name": (
        f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host;;x-amz-date, Signature={GOOD_SIG}"
    ),
    "short signature": f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host, Signature=abc",
    "non-hex signature": (
        f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host, Signature={'g' * 64}"
    ),
    "non-ascii signature": (
        f"AWS4-HMAC-SHA256 Credential={SCOPE}, SignedHeaders=host, Signature={NON_ASCII_SIG}"
    ),
}


@pytest.mark.parametrize("value", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_authorization(value: str) -> None:
    secrets = Secrets({AKID: SECRET})
    request = replace_header(signed_request(), "Authorization", value)
    with pytest.raises(IncompleteSignature) as caught:
        await verifier(secrets=secrets).verify(request)
    assert caught.value.code == "IncompleteSignatureException"
    assert secrets.calls == []


@pytest.mark.parametrize(
    "value",
    [
        f"AWS4-HMAC-SHA512 Credential={SCOPE}, SignedHeaders=host, Signature={GOOD_SIG}",
        f"AWS4-ECDSA-P256-SHA256 Credential={SCOPE}, SignedHeaders=host, Signature={GOOD_SIG}",
        f"aws4-hmac-sha256 Credential={SCOPE}, SignedHeaders=host, Signature={GOOD_SIG}",
        "AWS AKIALORAFOXTEST00001:frJIUN8DYpKDtOLCwo//yllqDzg=",
        "Basic bG9yYWZveDpzM2NyZXQ=",
        "Bearer s3cret-token",
    ],
)
async def test_wrong_algorithm(value: str) -> None:
    request = replace_header(signed_request(), "Authorization", value)
    with pytest.raises(IncompleteSignature, match="only AWS4-HMAC-SHA256 is accepted") as caught:
        await verifier().verify(request)
    assert value.rsplit(maxsplit=1)[-1] not in caught.value.message  # credentials are not echoed


AUTHORIZATION_VARIANTS: dict[str, Callable[[str], str]] = {
    "no spaces after commas": lambda a: a.replace(", ", ","),
    "extra spaces and tabs": lambda a: "  " + a.replace(", ", " ,\t ").replace("=", " = ", 3),
    "parameters reordered": lambda a: (
        "AWS4-HMAC-SHA256 " + ", ".join(reversed(a.split(" ", 1)[1].split(", ")))
    ),
    "trailing comma": lambda a: a + ",",
    "separated by spaces only": lambda a: a.replace(", ", " "),
    "separated by tabs and newlines": lambda a: a.replace(", ", "\t").replace(" ", "\n", 1),
    "upper-case signature": lambda a: a[:-64] + a[-64:].upper(),
    "upper-case signed header names": lambda a: a.replace(
        "SignedHeaders=", "SignedHeaders="
    ).replace("host;x-amz-date", "Host;X-Amz-Date"),
}


@pytest.mark.parametrize(
    "variant", AUTHORIZATION_VARIANTS.values(), ids=AUTHORIZATION_VARIANTS.keys()
)
async def test_authorization_formatting_variants(variant: Callable[[str], str]) -> None:
    request = signed_request()
    authorization = variant(header(request, "Authorization"))
    assert authorization != header(request, "Authorization")
    await verifier().verify(replace_header(request, "Authorization", authorization))


async def test_two_authorization_headers() -> None:
    request = signed_request()
    request = with_header(request, "Authorization", header(request, "Authorization"))
    with pytest.raises(IncompleteSignature, match="more than one Authorization"):
        await verifier().verify(request)


async def test_host_must_be_signed() -> None:
    request = signed_request()
    authorization = header(request, "Authorization").replace(";host;", ";")
    with pytest.raises(IncompleteSignature, match="'Host' must be a 'SignedHeader'"):
        await verifier().verify(replace_header(request, "Authorization", authorization))


async def test_date_header_missing_or_malformed() -> None:
    request = signed_request()
    with pytest.raises(IncompleteSignature, match="either a 'X-Amz-Date' or a 'Date'"):
        await verifier().verify(without(request, "X-Amz-Date"))
    with pytest.raises(IncompleteSignature, match="ISO-8601 'basic format'"):
        await verifier().verify(replace_header(request, "X-Amz-Date", "2024-05-17T09:30:00Z"))
    bad = with_header(without(request, "X-Amz-Date"), "Date", "yesterday")
    with pytest.raises(IncompleteSignature, match="not an HTTP date"):
        await verifier().verify(bad)


async def test_date_header_instead_of_x_amz_date() -> None:
    request = without(unsigned_request(), "X-Amz-Date")
    request = with_header(request, "Date", format_datetime(NOW, usegmt=True))
    authorization = sign(
        request, access_key_id=AKID, secret_key=SECRET, region=REGION, service="dynamodb"
    )
    assert "SignedHeaders=content-type;date;host;x-amz-target," in authorization
    identity = await verifier().verify(with_header(request, "Authorization", authorization))
    assert identity.timestamp == NOW


async def test_content_sha256_header() -> None:
    digest = hashlib.sha256(BODY).hexdigest()
    good = signed_request(unsigned_request(extra=[("X-Amz-Content-Sha256", digest)]))
    await verifier().verify(good)
    # The header is signed in the canonical request in place of the body: it must match it.
    with pytest.raises(InvalidSignature, match="'x-amz-content-sha256' header does not match"):
        await verifier().verify(replace(good, body=b"{}"))
    streaming = signed_request(
        unsigned_request(extra=[("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256")])
    )
    with pytest.raises(IncompleteSignature, match="streaming"):
        await verifier().verify(streaming)


async def test_unsigned_payload_only_when_allowed() -> None:
    request = signed_request(unsigned_request(extra=[("X-Amz-Content-Sha256", UNSIGNED_PAYLOAD)]))
    assert UNSIGNED_PAYLOAD in canonical_request(without(request, "Authorization"))
    with pytest.raises(InvalidSignature, match="UNSIGNED-PAYLOAD is not accepted"):
        await verifier().verify(request)
    lenient = verifier(allow_unsigned_payload=True)
    await lenient.verify(request)
    await lenient.verify(replace(request, body=b"anything"))  # the body is not authenticated


async def test_lookup_errors_propagate() -> None:
    async def broken(access_key_id: str) -> str | None:
        raise RuntimeError("store down")

    with pytest.raises(RuntimeError, match="store down"):
        await SigV4Verifier(broken, clock=clock(NOW)).verify(signed_request())


def test_sign_refuses_incomplete_requests() -> None:
    keys = {"access_key_id": AKID, "secret_key": SECRET, "region": REGION, "service": "dynamodb"}
    with pytest.raises(ValueError, match="X-Amz-Date"):
        sign(without(unsigned_request(), "X-Amz-Date"), **keys)
    with pytest.raises(ValueError, match="Host"):
        sign(without(unsigned_request(), "Host"), **keys)
    with pytest.raises(ValueError, match="'x-missing' is not in the request"):
        sign(unsigned_request(), signed_headers=["host", "x-missing"], **keys)
    with pytest.raises(ValueError, match="aware"):
        amz_date(datetime(2024, 5, 17))


# --- presigned requests ---------------------------------------------------------------------


def presigned_request(
    *, expires: int = 300, token: str | None = None, query: str = "Action=Get&n=1"
) -> SigV4Request:
    request = SigV4Request("GET", "/things/my%20thing", query, [("Host", "iot.lorafox.test")])
    signed_query = presign(
        request,
        access_key_id=AKID,
        secret_key=SECRET,
        region=REGION,
        service="iot",
        timestamp=NOW,
        expires=expires,
        security_token=token,
    )
    return replace(request, query=signed_query)


async def test_presigned_roundtrip() -> None:
    request = presigned_request(token="session/token+1")
    assert "X-Amz-Security-Token=session%2Ftoken%2B1" in request.query
    identity = await verifier(service="iot").verify(request)
    assert identity.presigned and identity.security_token == "session/token+1"
    assert identity.signed_headers == ("host",)


async def test_presigned_expiry() -> None:
    request = presigned_request(expires=300)
    await verifier(now=NOW + timedelta(seconds=300), service="iot").verify(request)
    with pytest.raises(SignatureExpired, match="Request has expired"):
        await verifier(now=NOW + timedelta(seconds=301), service="iot").verify(request)
    with pytest.raises(SignatureExpired, match="not yet current"):
        await verifier(now=NOW - timedelta(minutes=16), service="iot").verify(request)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda q: q.replace("n=1", "n=2"), InvalidSignature),
        (lambda q: q.replace("X-Amz-Expires=300", "X-Amz-Expires=3000"), InvalidSignature),
        (lambda q: q.replace("&X-Amz-Expires=300", ""), IncompleteSignature),
        (lambda q: q.replace("X-Amz-Expires=300", "X-Amz-Expires=604801"), IncompleteSignature),
        (lambda q: q.replace("X-Amz-Expires=300", "X-Amz-Expires=-5"), IncompleteSignature),
        (lambda q: q.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"), IncompleteSignature),
        (lambda q: q.replace("aws4_request", "aws4_reques"), IncompleteSignature),
        (
            lambda q: q.replace("&X-Amz-Signature=", "&X-Amz-Signature=0&X-Amz-Signature="),
            IncompleteSignature,
        ),
        (lambda q: q.replace("X-Amz-Date=20240517T093000Z", "X-Amz-Date=now"), IncompleteSignature),
    ],
)
async def test_presigned_tampering(change: Callable[[str], str], error: type[SigV4Error]) -> None:
    request = presigned_request()
    request = replace(request, query=change(request.query))
    with pytest.raises(error) as caught:
        await verifier(service="iot").verify(request)
    assert type(caught.value) is error


async def test_presigned_and_header_auth_together() -> None:
    request = presigned_request()
    request = with_header(request, "Authorization", header(signed_request(), "Authorization"))
    with pytest.raises(IncompleteSignature, match="Only one auth mechanism"):
        await verifier(service="iot").verify(request)


def test_presign_refuses_presigned_requests() -> None:
    with pytest.raises(ValueError, match="presigned already"):
        presign(
            presigned_request(),
            access_key_id=AKID,
            secret_key=SECRET,
            region=REGION,
            service="iot",
            timestamp=NOW,
        )


# --- cross-check with botocore --------------------------------------------------------------


@pytest.fixture
def botocore_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore signs at NOW (it reads the time through this function, naive UTC)."""
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda *_a, **_k: NOW.replace(tzinfo=None)
    )


def from_botocore(aws_request: Any) -> SigV4Request:
    prepared = aws_request.prepare()
    url = urlsplit(prepared.url)
    headers: list[tuple[str, str]] = []
    for name, value in prepared.headers.items():
        headers.append((name, value.decode() if isinstance(value, bytes) else value))
    if not any(name.lower() == "host" for name, _ in headers):
        headers.append(("Host", url.netloc))  # what the HTTP client sends
    body = prepared.body or b""
    return SigV4Request(
        prepared.method,
        url.path,
        url.query,
        headers,
        body.encode() if isinstance(body, str) else body,
    )


def dynamodb_call(token: str | None = None, date_header: bool = False) -> Any:
    headers = {
        "X-Amz-Target": "DynamoDB_20120810.PutItem",
        "Content-Type": "application/x-amz-json-1.0",
    }
    if date_header:
        headers["Date"] = "placeholder, botocore sets it"
    request = AWSRequest(
        method="POST",
        url="https://dynamodb.eu-west-3.amazonaws.com/",
        data=b'{"TableName": "messages", "Item": {"device": {"S": "1A 2B"}}}',
        headers=headers,
    )
    SigV4Auth(Credentials(AKID, SECRET, token), "dynamodb", REGION).add_auth(request)
    return request


TRICKY_QUERY = [
    ("b", "2"),
    ("a", "x y"),
    ("a", ""),
    ("c", "\u20ac/?&=#"),
    ("d", "a+b"),
    ("e", "~-._*'()!"),
    ("Z", "1"),
    ("empty", ""),
]
TRICKY_URL = "https://iot.eu-west-3.amazonaws.com/rules/my%20rule%2Fv2?" + percent_encode_sequence(
    TRICKY_QUERY
)


@pytest.mark.usefixtures("botocore_now")
@pytest.mark.parametrize(
    ("token", "date_header"), [(None, False), ("FwoGZXIvYXdzEBYaDH", False), (None, True)]
)
async def test_botocore_dynamodb_call_verifies(token: str | None, date_header: bool) -> None:
    request = from_botocore(dynamodb_call(token, date_header))
    identity = await verifier().verify(request)
    assert identity.security_token == token
    assert ("date" if date_header else "x-amz-date") in identity.signed_headers
    # botocore signs before its HTTP layer adds Content-Length: sign the same headers.
    mine = sign(
        without(without(request, "Authorization"), "Content-Length"),
        access_key_id=AKID,
        secret_key=SECRET,
        region=REGION,
        service="dynamodb",
    )
    assert mine == header(request, "Authorization")


@pytest.mark.usefixtures("botocore_now")
async def test_botocore_tricky_get_verifies() -> None:
    aws_request = AWSRequest(method="GET", url=TRICKY_URL, headers={"Accept": "application/json"})
    SigV4Auth(Credentials(AKID, SECRET), "iot", REGION).add_auth(aws_request)
    request = from_botocore(aws_request)
    assert request.path == "/rules/my%20rule%2Fv2"
    await verifier(service="iot").verify(request)
    mine = sign(
        without(request, "Authorization"),
        access_key_id=AKID,
        secret_key=SECRET,
        region=REGION,
        service="iot",
    )
    assert mine == header(request, "Authorization")
    with pytest.raises(InvalidSignature):
        await verifier(service="iot").verify(replace(request, path="/rules/my%20rule/v2"))


@pytest.mark.usefixtures("botocore_now")
async def test_botocore_presigned_url() -> None:
    url = "https://iot.eu-west-3.amazonaws.com/things/t%201?" + percent_encode_sequence(
        [("x", "a b"), ("y", "\u20ac")]
    )
    aws_request = AWSRequest(method="GET", url=url)
    SigV4QueryAuth(Credentials(AKID, SECRET), "iot", REGION, expires=600).add_auth(aws_request)
    request = from_botocore(aws_request)
    identity = await verifier(service="iot").verify(request)
    assert identity.presigned
    unsigned = SigV4Request(
        "GET", request.path, urlsplit(url).query, [("Host", urlsplit(url).netloc)]
    )
    mine = presign(
        unsigned,
        access_key_id=AKID,
        secret_key=SECRET,
        region=REGION,
        service="iot",
        timestamp=NOW,
        expires=600,
    )
    assert mine == request.query


@pytest.mark.usefixtures("botocore_now")
async def test_botocore_verifies_nothing_we_reject() -> None:
    """A botocore request signed with another secret fails, with AWS's message."""
    aws_request = AWSRequest(method="POST", url="https://dynamodb.eu-west-3.amazonaws.com/")
    SigV4Auth(Credentials(AKID, "other-secret"), "dynamodb", REGION).add_auth(aws_request)
    with pytest.raises(InvalidSignature) as caught:
        await verifier().verify(from_botocore(aws_request))
    assert caught.value.message == SIGNATURE_MISMATCH
