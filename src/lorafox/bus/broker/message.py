"""An application message inside the broker: encoded once per (QoS, packet id) it is sent with."""

from __future__ import annotations

from lorafox.bus.mqtt_codec import encode_remaining_length
from lorafox.ports.bus import Audience

__all__ = ["Audience", "Message", "Outgoing"]


class Message:
    """The length-prefixed topic, the payload and who may receive them."""

    __slots__ = ("audience", "payload", "size", "topic")

    def __init__(self, topic: bytes, payload: bytes, audience: Audience = None) -> None:
        self.topic = topic
        self.payload = payload
        self.audience = audience
        self.size = len(topic) + len(payload)

    def encode(self, qos: int, packet_id: int, retain: bool, dup: bool) -> bytes:
        topic = self.topic
        payload = self.payload
        first = 0x30 | (qos << 1) | (8 if dup else 0) | (1 if retain else 0)
        return b"".join(
            (
                bytes((first,)),
                encode_remaining_length(len(topic) + 4 + len(payload)),
                len(topic).to_bytes(2, "big"),
                topic,
                packet_id.to_bytes(2, "big"),
                payload,
            )
        )


Outgoing = tuple[Message, int, bool]
"""(message, QoS, retain flag) of a QoS 1/2 message for one session."""
