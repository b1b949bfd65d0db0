"""The downlink callback: a device type's BIDIR callback chosen to answer its devices.

When a device waits for a downlink, lorafox calls it (rendered like any BIDIR callback) and
takes its answer as the downlink, as the Sigfox Back-End does with a customer's server:
``{"<device>": {"downlinkData": "<16 hex digits>"}}`` is that downlink, ``{"<device>":
{"noData": true}}`` or 204 No Content is none. A call that fails, is refused, answers
something else or not within ``timeout`` leaves the answer to the queue.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import httpx
import orjson

from lorafox.callbacks.destinations import DestinationGuard
from lorafox.callbacks.directory import CallbackDirectory
from lorafox.callbacks.requests import request_for
from lorafox.domain import StoredUplink, Uplink
from lorafox.errors import InvalidInput
from lorafox.ports.callbacks import HookAnswer

__all__ = ["DownlinkHooks", "parse_answer"]

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 4096
_DOWNLINK = re.compile(r"^[0-9A-Fa-f]{16}$")


def parse_answer(device: str, status: int, content: bytes) -> HookAnswer:
    """The downlink an answer gives: its data, or False for none. Raises ``InvalidInput``
    saying what is wrong with an answer that is neither."""
    if status == 204:
        return False
    if not 200 <= status < 300:
        raise InvalidInput(f"HTTP {status}")
    try:
        found = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the answer is not JSON: {exc}") from None
    if not isinstance(found, dict):
        raise InvalidInput("the answer is not a JSON object")
    entry = next((v for k, v in found.items() if k.upper().lstrip("0") == device), None)
    if not isinstance(entry, dict):
        raise InvalidInput(f"the answer has no object for device {device}")
    if entry.get("noData") is True:
        return False
    data = entry.get("downlinkData")
    if not isinstance(data, str) or not _DOWNLINK.match(data):
        raise InvalidInput("downlinkData: expected 16 hex digits (8 bytes)")
    return data.lower()


async def _bounded(response: httpx.Response) -> bytes:
    content = b""
    async for chunk in response.aiter_bytes():
        content += chunk
        if len(content) > MAX_ANSWER_BYTES:
            raise InvalidInput(f"the answer is over {MAX_ANSWER_BYTES} bytes")
    return content


class DownlinkHooks:
    """Implements ``lorafox.ports.callbacks.DownlinkHook`` on the device types' callbacks."""

    def __init__(
        self,
        directory: CallbackDirectory,
        guard: DestinationGuard,
        clock: Callable[[], int],
        *,
        timeout: float,
    ) -> None:
        self._directory = directory
        self._guard = guard
        self._clock = clock
        self._client = httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, headers={"User-Agent": "lorafox callbacks"}
        )

    async def answer(self, uplink: Uplink, device_type_id: str | None) -> HookAnswer:
        hook = self._directory.downlink_hook(device_type_id)
        if hook is None:
            return None
        request = request_for(hook, StoredUplink(id=0, received_at=self._clock(), uplink=uplink))
        try:
            await self._guard.check(request.url)
            async with self._client.stream(
                request.method,
                request.url,
                headers=request.headers,
                content=None if request.body is None else request.body.encode(),
            ) as response:
                content = await _bounded(response)
                return parse_answer(uplink.device, response.status_code, content)
        except (InvalidInput, httpx.HTTPError) as exc:
            reason = str(exc) or type(exc).__name__
            log.warning(
                "downlink callback %s for device %s failed (%s): answering from the queue",
                hook.id,
                uplink.device,
                reason,
            )
            return None

    async def close(self) -> None:
        await self._client.aclose()
