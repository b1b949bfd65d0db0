"""What the broker answers an MQTT 5 CONNECT: the CONNACK properties, and the MQTT 5 reason
code of each refusal."""

from __future__ import annotations

from typing import Final

from lorafox.bus.broker.limits import BrokerLimits
from lorafox.bus.mqtt_codec import (
    MAX_REMAINING_LENGTH,
    Connect,
    ConnectReturnCode,
    Properties,
    ReasonCode,
)

__all__ = ["connack_properties", "reason_code_of"]

_REASONS: Final[dict[int, int]] = {
    ConnectReturnCode.UNACCEPTABLE_PROTOCOL_VERSION: ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
    ConnectReturnCode.IDENTIFIER_REJECTED: ReasonCode.CLIENT_IDENTIFIER_NOT_VALID,
    ConnectReturnCode.SERVER_UNAVAILABLE: ReasonCode.SERVER_UNAVAILABLE,
    ConnectReturnCode.BAD_USERNAME_OR_PASSWORD: ReasonCode.BAD_USER_NAME_OR_PASSWORD,
    ConnectReturnCode.NOT_AUTHORIZED: ReasonCode.NOT_AUTHORIZED,
}


def reason_code_of(code: int) -> int:
    """The MQTT 5 reason code of a 3.1.1 CONNACK return code (a reason code stays itself)."""
    return _REASONS.get(code, code)


def connack_properties(
    limits: BrokerLimits,
    connect: Connect,
    *,
    keep_alive: int,
    assigned_client_id: str | None,
    session_expiry: int | None,
    client_id: str,
) -> Properties:
    """The properties of a successful MQTT 5 CONNACK: what the broker allows and imposes
    (``keep_alive``: the one the client is held to)."""
    asked = connect.properties
    response = None
    if asked.request_response_information:
        response = f"response/{client_id}"
    return Properties(
        assigned_client_identifier=assigned_client_id,
        session_expiry_interval=session_expiry,
        server_keep_alive=keep_alive if keep_alive != connect.keep_alive else None,
        receive_maximum=limits.receive_maximum,
        topic_alias_maximum=limits.topic_alias_maximum or None,
        maximum_packet_size=(
            limits.max_packet_size if limits.max_packet_size < MAX_REMAINING_LENGTH else None
        ),
        response_information=response,
    )
