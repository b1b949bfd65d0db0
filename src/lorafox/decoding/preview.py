"""A payload format tried on stored messages before it is saved: what each would decode to.

``preview(payload_type, payload_config, messages)`` compiles the format as saving it would
(so the error is the one the save would give, naming the character at fault) and decodes each
message with it, a LoRa message with its fPort's format. Nothing is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lorafox.decoding.decoders import compile_decoder, decode_payload
from lorafox.domain import PayloadType, StoredUplink
from lorafox.errors import InvalidInput

__all__ = ["DecodedMessage", "Preview", "preview"]


@dataclass(slots=True, frozen=True)
class DecodedMessage:
    """One message and what the format makes of it: ``fields``, or ``error`` when its payload
    does not fit (both None for a format that decodes nothing, the regular type)."""

    message: StoredUplink
    fields: dict[str, Any] | None
    error: str | None


@dataclass(slots=True, frozen=True)
class Preview:
    """The format's error (``format_error``, with the field it is about), or its result on
    each message."""

    format_error: str | None = None
    field: str | None = None
    messages: tuple[DecodedMessage, ...] = ()


def preview(
    payload_type: int, payload_config: str | None, messages: Sequence[StoredUplink]
) -> Preview:
    """What ``messages`` decode to with this payload type and format."""
    try:
        kind = PayloadType(payload_type)
    except ValueError:
        return Preview(format_error=f"payload type {payload_type} is unknown", field="payloadType")
    try:
        decoder = compile_decoder(kind, (payload_config or "").strip() or None)
    except InvalidInput as exc:  # PayloadFormatError is one, on payloadConfig
        return Preview(format_error=exc.message, field=exc.field)
    out = []
    for stored in messages:
        port = stored.uplink.extra.get("fPort")
        fields, error = decode_payload(
            decoder, stored.uplink.data, port if isinstance(port, int) else None
        )
        out.append(DecodedMessage(stored, fields, error))
    return Preview(messages=tuple(out))
