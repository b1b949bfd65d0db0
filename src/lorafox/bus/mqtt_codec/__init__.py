"""MQTT 5, 3.1.1 and 3.1 packets: decoding a byte stream, encoding packets.

Supported: MQTT 5 (level 5), MQTT 3.1.1 (protocol name ``MQTT``, level 4) and MQTT 3.1
(``MQIsdp``, level 3), every control packet of those versions in both directions. A decoder
reads 3.1.1 packets until a level 5 CONNECT, and MQTT 5 packets from then on (``v5``), with
their properties (``properties``) and reason codes (``reason_codes``).

A CONNECT of another level raises ``UnsupportedProtocolVersion``. A malformed packet or a
violation of the protocol raises ``ProtocolError`` (an ``InvalidInput``) carrying the MQTT 5
reason code to answer with; the broker closes that one connection.
"""

from lorafox.bus.mqtt_codec import packets
from lorafox.bus.mqtt_codec.decoder import PacketDecoder
from lorafox.bus.mqtt_codec.errors import ProtocolError, UnsupportedProtocolVersion
from lorafox.bus.mqtt_codec.packets import *  # noqa: F403 (the packets' names, listed once there)
from lorafox.bus.mqtt_codec.properties import NO_PROPERTIES, Properties, encode_properties
from lorafox.bus.mqtt_codec.reason_codes import ReasonCode

__all__ = [
    "NO_PROPERTIES",
    "PacketDecoder",
    "Properties",
    "ProtocolError",
    "ReasonCode",
    "UnsupportedProtocolVersion",
    "encode_properties",
]
__all__ += packets.__all__
