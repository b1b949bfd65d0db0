"""The codec's errors: a malformed packet or a protocol violation, with its MQTT 5 reason code."""

from __future__ import annotations

from lorafox.bus.mqtt_codec.reason_codes import ReasonCode
from lorafox.errors import InvalidInput

__all__ = ["ProtocolError", "UnsupportedProtocolVersion"]


class ProtocolError(InvalidInput):
    """A malformed packet or a violation of the MQTT protocol: the connection must be closed
    (an MQTT 5 client is told ``reason_code`` in a DISCONNECT first)."""

    def __init__(
        self,
        message: str,
        reason_code: int = ReasonCode.MALFORMED_PACKET,
        *,
        field: str | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.reason_code = reason_code


class UnsupportedProtocolVersion(ProtocolError):
    """A CONNECT for a protocol level this broker does not speak."""

    def __init__(self, message: str, *, level: int) -> None:
        super().__init__(message, ReasonCode.UNSUPPORTED_PROTOCOL_VERSION, field="protocol_level")
        self.level = level
