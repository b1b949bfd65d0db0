"""An application message inside the broker: encoded once per (QoS, packet id) it is sent with,
the MQTT 3.1.1 way or, for an MQTT 5 client, with its properties."""

from __future__ import annotations

import functools
import math
import struct
from typing import Final

from lorafox.bus.mqtt_codec import encode_remaining_length
from lorafox.bus.mqtt_codec.properties import Properties, encode_properties, encode_varint
from lorafox.ports.bus import Audience, PublishProperties

__all__ = ["Audience", "Message", "Outgoing", "encode_publish5", "own_properties", "property_block"]

_SMALL: Final = tuple(bytes((n,)) for n in range(128))
_FIRST: Final = tuple(bytes((0x30 | flags,)) for flags in range(16))
"""The first byte of a PUBLISH by its flags (DUP, QoS, RETAIN)."""

_correlation: Final = struct.Struct(">BHQ").pack
"""The correlation data property of lorafox's own messages: (9, 8, the message's number)."""


@functools.lru_cache(maxsize=16)
def _content_type(content_type: str) -> bytes:
    raw = content_type.encode("utf-8")
    return b"\x03" + len(raw).to_bytes(2, "big") + raw


def own_properties(
    counter: int, content_type: str | None, properties: PublishProperties | None
) -> bytes:
    """The properties (encoded, without their length) MQTT 5 subscribers get with a message
    lorafox publishes: ``properties`` when given, else ``content_type``; the correlation data
    is the 8 bytes of ``counter`` unless ``properties`` has its own. The message expiry is not
    among them (the router sends what is left of it)."""
    if properties is None:
        block = _correlation(9, 8, counter)
        return block if content_type is None else _content_type(content_type) + block
    encoded = encode_properties(
        Properties(
            payload_format_indicator=properties.payload_format_indicator,
            content_type=properties.content_type or content_type,
            response_topic=properties.response_topic,
            correlation_data=(
                counter.to_bytes(8, "big")
                if properties.correlation_data is None
                else properties.correlation_data
            ),
            user_properties=properties.user_properties,
        )
    )
    start = 1
    while encoded[start - 1] & 0x80:  # skip the length (a variable byte integer)
        start += 1
    return encoded[start:]


class Message:
    """The length-prefixed topic, the payload, who may receive them, and for MQTT 5 clients the
    properties passed through (encoded, without their length), when the message expires (loop
    time) and the subscription identifiers of the one session it is for."""

    __slots__ = (
        "audience",
        "block5",
        "expires_at",
        "payload",
        "properties",
        "size",
        "sub_ids",
        "topic",
    )

    def __init__(
        self,
        topic: bytes,
        payload: bytes,
        audience: Audience = None,
        properties: bytes = b"",
        expires_at: float | None = None,
    ) -> None:
        self.topic = topic
        self.payload = payload
        self.audience = audience
        self.size = len(topic) + len(payload) + len(properties)
        self.properties = properties
        self.expires_at = expires_at
        self.sub_ids: tuple[int, ...] = ()
        self.block5: bytes | None = None
        """The MQTT 5 property block of ``properties`` alone (encoded once, when first sent)."""

    def for_subscription(self, sub_ids: tuple[int, ...]) -> Message:
        """This message carrying the subscription identifiers ``sub_ids`` (a copy)."""
        if not sub_ids:
            return self
        copy = Message(self.topic, self.payload, self.audience, self.properties, self.expires_at)
        copy.sub_ids = sub_ids
        return copy

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def encode(self, qos: int, packet_id: int, retain: bool, dup: bool) -> bytes:
        """As an MQTT 3.1.1 QoS 1/2 PUBLISH."""
        topic = self.topic
        payload = self.payload
        return b"".join(
            (
                _FIRST[(qos << 1) | (8 if dup else 0) | (1 if retain else 0)],
                encode_remaining_length(len(topic) + 4 + len(payload)),
                len(topic).to_bytes(2, "big"),
                topic,
                packet_id.to_bytes(2, "big"),
                payload,
            )
        )

    def encode5(
        self,
        qos: int,
        packet_id: int,
        retain: bool,
        dup: bool,
        now: float,
        alias: int = 0,
        with_topic: bool = True,
    ) -> bytes:
        """As an MQTT 5 PUBLISH (any QoS): the expiry left, the subscription identifiers and
        the topic alias ``alias`` (0: none) added to the properties passed through."""
        if alias or self.sub_ids or self.expires_at is not None:
            block = self._block(now, alias)
        else:  # the same for every client: encoded once
            cached = self.block5
            if cached is None:
                props = self.properties
                size = len(props)
                cached = _SMALL[size] + props if size < 128 else property_block(props)
                self.block5 = cached
            block = cached
        topic = self.topic if with_topic else b""
        payload = self.payload
        first = _FIRST[(qos << 1) | (8 if dup else 0) | (1 if retain else 0)]
        if qos:
            return b"".join(
                (
                    first,
                    encode_remaining_length(len(topic) + 4 + len(block) + len(payload)),
                    len(topic).to_bytes(2, "big"),
                    topic,
                    packet_id.to_bytes(2, "big"),
                    block,
                    payload,
                )
            )
        return b"".join(
            (
                first,
                encode_remaining_length(len(topic) + 2 + len(block) + len(payload)),
                len(topic).to_bytes(2, "big"),
                topic,
                block,
                payload,
            )
        )

    def _block(self, now: float, alias: int) -> bytes:
        props = self.properties
        if self.expires_at is not None:
            # Rounded to the loop clock's millisecond first: float sums such as
            # t + 3600 - t must not give 3601.
            left = max(0, math.ceil(round(self.expires_at - now, 3)))
            props = b"\x02" + left.to_bytes(4, "big") + props
        for sub_id in self.sub_ids:
            props += b"\x0b" + encode_varint(sub_id)
        if alias:
            props += b"\x23" + alias.to_bytes(2, "big")
        return property_block(props)


def property_block(properties: bytes) -> bytes:
    """Encoded ``properties`` with their length in front: a PUBLISH's property block."""
    size = len(properties)
    return (_SMALL[size] if size < 128 else encode_varint(size)) + properties


def encode_publish5(topic: bytes, payload: bytes, properties: bytes) -> bytes:
    """An MQTT 5 QoS 0 PUBLISH of ``properties`` (encoded, without their length)."""
    block = property_block(properties)
    return b"".join(
        (
            b"\x30",
            encode_remaining_length(len(topic) + 2 + len(block) + len(payload)),
            len(topic).to_bytes(2, "big"),
            topic,
            block,
            payload,
        )
    )


Outgoing = tuple[Message, int, bool]
"""(message, QoS, retain flag) of a QoS 1/2 message for one session."""
