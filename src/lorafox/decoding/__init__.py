"""Payload decoding and the DIRECT downlink template, compiled once per device type.

- ``compile_decoder(payload_type, payload_config)`` → a ``Decoder`` (``None`` for REGULAR),
  whose ``decode(data_hex)`` gives the decoded fields or raises ``PayloadDecodeError``;
  ``decode_payload`` gives ``(fields, error text)`` instead.
- ``compile_downlink_template(text)`` → a ``DownlinkTemplate`` whose
  ``render(time_s, tap_id, rssi)`` gives the 16 hex digits of a DIRECT downlink.

A bad format raises ``PayloadFormatError`` (an ``InvalidInput`` on ``payloadConfig``), a bad
template ``InvalidInput`` on ``downlinkDataString``; both name the character at fault.
See docs/decoding.md.
"""

from lorafox.decoding.decoders import (
    STRING_FIELD,
    CustomDecoder,
    Decoder,
    StringDecoder,
    compile_decoder,
    decode_payload,
)
from lorafox.decoding.grammar import MAX_PAYLOAD_BYTES, FieldKind, FieldLayout, parse_format
from lorafox.decoding.template import (
    DOWNLINK_BYTES,
    DOWNLINK_VARIABLES,
    DownlinkTemplate,
    compile_downlink_template,
)
from lorafox.errors import PayloadDecodeError, PayloadFormatError

__all__ = [
    "DOWNLINK_BYTES",
    "DOWNLINK_VARIABLES",
    "MAX_PAYLOAD_BYTES",
    "STRING_FIELD",
    "CustomDecoder",
    "Decoder",
    "DownlinkTemplate",
    "FieldKind",
    "FieldLayout",
    "PayloadDecodeError",
    "PayloadFormatError",
    "StringDecoder",
    "compile_decoder",
    "compile_downlink_template",
    "decode_payload",
    "parse_format",
]
