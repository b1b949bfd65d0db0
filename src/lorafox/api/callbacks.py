"""``/sigfox/uplink`` and ``/sigfox/bidir``: the Sigfox Back-End's DATA callbacks.

This is the hot path (thousands of calls a second), so it is a bare ASGI handler rather than a
FastAPI route: no validation framework, no dependency injection, one dict per request.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from lorafox.api.asgi import Receive, Scope, Send, read_body, respond
from lorafox.api.errors import error_body, error_response
from lorafox.api.metrics import Metrics
from lorafox.auth.basic import BasicAuthenticator
from lorafox.devices.unknown import UnknownDevices
from lorafox.downlinks import DownlinkQueue
from lorafox.errors import Forbidden, LorafoxError
from lorafox.ingest.pipeline import UplinkPipeline
from lorafox.ingest.sigfox import (
    decode_body,
    is_downlink_request_only,
    normalize_device,
    parse_uplink,
)

__all__ = ["CALLBACK_PATHS", "SigfoxCallbacks"]

log = logging.getLogger(__name__)

CALLBACK_PATHS = frozenset({"/sigfox/uplink", "/sigfox/bidir"})
MAX_BODY = 64 * 1024
_JSON = [(b"content-type", b"application/json")]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(slots=True)
class SigfoxCallbacks:
    """The ASGI handler for the DATA callbacks."""

    pipeline: UplinkPipeline
    downlinks: DownlinkQueue
    auth: BasicAuthenticator
    metrics: Metrics
    allowed_networks: Sequence[Network] = ()
    trust_forwarded_for: bool = False
    unknown: UnknownDevices | None = None
    """What to do with devices that are not registered (None: accept them, create nothing)."""

    def _caller(self, scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        if self.trust_forwarded_for and b"x-forwarded-for" in headers:
            return headers[b"x-forwarded-for"].split(b",")[0].strip().decode("latin-1")
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
        endpoint = "uplink" if scope["path"] == "/sigfox/uplink" else "bidir"
        try:
            status, headers, body = await self._handle(endpoint, scope, receive)
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
        self, endpoint: str, scope: Scope, receive: Receive
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        headers = dict(scope["headers"])
        self._check_network(scope, headers)
        auth = headers.get(b"authorization")
        await self.auth.authenticate(auth.decode("latin-1") if auth else None)
        if scope["method"] not in ("GET", "POST"):
            return 405, [*_JSON, (b"allow", b"GET, POST")], error_body("use POST or GET")
        body = await read_body(receive, MAX_BODY)
        fields = decode_body(
            body, headers.get(b"content-type", b"").decode("latin-1"), scope["query_string"]
        )
        if endpoint == "bidir" and is_downlink_request_only(fields):
            device = normalize_device(fields.get("device", fields.get("id")))
            if self.unknown is not None and not self.unknown.knows(device):
                await self.unknown.check(device, None)  # refuses, or nothing to provision yet
            downlink = await self.downlinks.answer(device, None, None)
            return self._bidir_answer(fields, device, downlink.data if downlink else None)
        uplink = parse_uplink(fields)
        wants = endpoint == "bidir" and uplink.ack
        unknown = self.unknown
        provision = None
        if unknown is not None and not unknown.knows(uplink.device):
            provision = await unknown.check(uplink.device, uplink.device_type_id)
        result = await self.pipeline.submit(uplink, want_downlink=wants, provision=provision)
        if provision is not None and unknown is not None:
            unknown.provisioned(provision)
        if result.stored:
            self.metrics.callbacks.stored += 1
        else:
            self.metrics.callbacks.duplicates += 1
        if not wants:
            return 204, [], b""
        self.downlinks.count_answer(result.downlink)
        data = result.downlink.data if result.downlink else None
        return self._bidir_answer(fields, uplink.device, data)

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
