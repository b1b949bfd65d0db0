"""``/sigfox/*``: the Sigfox Back-End's callbacks.

``/sigfox/uplink`` and ``/sigfox/bidir`` take the DATA callbacks, ``/sigfox/service`` (and
``/sigfox/service/{status,acknowledge,data-advanced}``) the SERVICE ones, ``/sigfox/error`` the
ERROR ones. DATA is the hot path (thousands of calls a second), so this is a bare ASGI handler
rather than FastAPI routes: no validation framework, no dependency injection, one dict per
request.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from lorafox.api.asgi import Receive, Scope, Send, read_body, respond
from lorafox.api.errors import error_body, error_response
from lorafox.auth import rbac
from lorafox.auth.basic import BasicAuthenticator
from lorafox.auth.principals import PrincipalAuthenticator
from lorafox.devices.unknown import UnknownDevicePolicy
from lorafox.domain import (
    Acknowledgement,
    AdvancedData,
    DeviceStatus,
    ErrorReport,
    Principal,
    PrincipalKind,
)
from lorafox.errors import (
    AuthenticationFailed,
    Forbidden,
    LorafoxError,
    NotFound,
    PayloadTooLarge,
)
from lorafox.ingest.service import ServiceKind, parse_error, parse_service
from lorafox.ingest.sigfox import (
    decode_body,
    is_downlink_request_only,
    normalize_device,
    parse_uplink,
)
from lorafox.metrics import Metrics
from lorafox.reports import ServiceReports
from lorafox.uplink import UplinkService

__all__ = ["CALLBACK_PATHS", "SigfoxCallbacks"]

log = logging.getLogger(__name__)

_ENDPOINTS: dict[str, tuple[str, ServiceKind | None]] = {
    "/sigfox/uplink": ("uplink", None),
    "/sigfox/bidir": ("bidir", None),
    "/sigfox/service": ("service", None),
    "/sigfox/error": ("error", None),
    **{f"/sigfox/service/{kind.value}": ("service", kind) for kind in ServiceKind},
}
CALLBACK_PATHS = frozenset(_ENDPOINTS)
MAX_BODY = 64 * 1024
_JSON = [(b"content-type", b"application/json")]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(slots=True)
class SigfoxCallbacks:
    """The ASGI handler for the callbacks: parses them, hands them to the flows, answers."""

    uplinks: UplinkService
    auth: BasicAuthenticator
    metrics: Metrics
    api_users: PrincipalAuthenticator | None = None
    """Also take an API user's credentials (DEVICE_MANAGER): its callbacks reach only its
    devices (None: only the instance's callback credentials)."""
    allowed_networks: Sequence[Network] = ()
    trust_forwarded_for: bool = False
    reports: ServiceReports | None = None
    """Where SERVICE and ERROR callbacks go (None: those paths answer 404)."""

    def _caller(self, scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        if self.trust_forwarded_for and b"x-forwarded-for" in headers:
            return headers[b"x-forwarded-for"].rsplit(b",", 1)[-1].strip().decode("latin-1")
        client = scope.get("client")
        return client[0] if client else None

    def _check_network(self, scope: Scope, headers: dict[bytes, bytes]) -> None:
        if not self.allowed_networks:
            return
        caller = self._caller(scope, headers)
        try:
            address = ipaddress.ip_address(caller or "")
        except ValueError:
            address = None
        if address is None or not any(address in net for net in self.allowed_networks):
            log.warning("callback from %s refused: outside the allowed networks", caller)
            raise Forbidden(f"calls from {caller} are not allowed")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        endpoint, kind = _ENDPOINTS[scope["path"]]
        try:
            status, headers, body = await self._handle(endpoint, kind, scope, receive)
        except LorafoxError as exc:
            status, headers, body = error_response(exc)
            if status >= 500:
                log.error("%s callback failed: %s", endpoint, exc.message)
            else:
                log.info("%s callback refused (%d): %s", endpoint, status, exc.message)
        except Exception:
            log.exception("%s callback failed", endpoint)
            status, headers, body = 500, _JSON, error_body("internal error, see the server log")
        await respond(send, status, headers, body)
        self.metrics.callbacks.answered(endpoint, status, time.perf_counter() - started)

    async def _handle(
        self, endpoint: str, kind: ServiceKind | None, scope: Scope, receive: Receive
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY:
            raise PayloadTooLarge(f"body larger than {MAX_BODY} bytes")  # refused unread
        self._check_network(scope, headers)
        auth = headers.get(b"authorization")
        sender = await self._sender(auth.decode("latin-1") if auth else None)
        if scope["method"] not in ("GET", "POST"):
            return 405, [*_JSON, (b"allow", b"GET, POST")], error_body("use POST or GET")
        body = await read_body(receive, MAX_BODY)
        fields = decode_body(
            body, headers.get(b"content-type", b"").decode("latin-1"), scope["query_string"]
        )
        if endpoint in ("service", "error"):
            return await self._report(endpoint, kind, fields, sender)
        if endpoint == "bidir" and is_downlink_request_only(fields):
            return await self._downlink_only(fields, sender)
        uplink = parse_uplink(fields)
        wants = endpoint == "bidir" and uplink.ack
        result = await self.uplinks.receive(uplink, wants_downlink=wants, sender=sender)
        if not wants:
            return 204, [], b""
        data = result.downlink.data if result.downlink else None
        return self._bidir_answer(fields, uplink.device, data)

    async def _sender(self, header: str | None) -> Principal | None:
        """None for the instance's callback credentials; the API user for an API user's (the
        shared pair is tried first: it is the hot path)."""
        try:
            await self.auth.authenticate(header)
            return None
        except AuthenticationFailed:
            if self.api_users is None or header is None:
                raise
        # per login only: a wrong password of one customer must not lock the Sigfox
        # Back-End's addresses out for everyone
        principal = await self.api_users.authenticate(header)
        if principal.kind is not PrincipalKind.API_USER:
            raise AuthenticationFailed("callbacks take the callback credentials or an API user's")
        if not rbac.holds_anywhere(principal, rbac.OPERATE):
            raise Forbidden("DEVICE_MANAGER is needed to send callbacks")
        return principal

    async def _downlink_only(
        self, fields: dict[str, Any], sender: Principal | None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """A BIDIR body naming only the device: its downlink, without storing a message."""
        device = normalize_device(fields.get("device", fields.get("id")))
        data = await self.uplinks.downlink_only(device, sender)
        return self._bidir_answer(fields, device, data)

    async def _report(
        self,
        endpoint: str,
        kind: ServiceKind | None,
        fields: dict[str, Any],
        sender: Principal | None,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """SERVICE and ERROR callbacks: 200 with what was recorded."""
        reports = self.reports
        if reports is None:
            raise NotFound("SERVICE and ERROR callbacks are not handled here")
        report = parse_error(fields) if endpoint == "error" else parse_service(fields, kind)
        if sender is not None:
            advanced = isinstance(report, AdvancedData)
            await self.uplinks.check_reporter(sender, report.device, advanced=advanced)
        unknown = self.uplinks.unknown
        if (
            unknown is not None
            and unknown.policy is UnknownDevicePolicy.REFUSE
            and not unknown.knows(report.device)
        ):
            await unknown.check(report.device, None)  # NotFound, unless registered meanwhile
        if isinstance(report, ErrorReport):
            event = await reports.error(report)
            return 200, _JSON, orjson.dumps({"recorded": "error", "eventId": event.id})
        if isinstance(report, DeviceStatus):
            found = await reports.status(report)
            return 200, _JSON, orjson.dumps({"recorded": "status", "events": len(found)})
        if isinstance(report, Acknowledgement):
            downlink = await reports.acknowledge(report)
            body = {
                "recorded": "acknowledge",
                "downlinkId": downlink.id if downlink else None,
                "state": downlink.state if downlink else None,
            }
            return 200, _JSON, orjson.dumps(body)
        await reports.advanced(report, functools.partial(self.uplinks.receive, sender=sender))
        return 200, _JSON, orjson.dumps({"recorded": "data-advanced"})

    @staticmethod
    def _bidir_answer(
        fields: dict[str, Any], device: str, data: str | None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """200 with the downlink under the device id as the Back-End sent it, or 204."""
        if data is None:
            return 204, [], b""
        raw = fields.get("device", fields.get("id"))
        key = raw.strip() if isinstance(raw, str) else device
        return 200, _JSON, orjson.dumps({key: {"downlinkData": data}})
