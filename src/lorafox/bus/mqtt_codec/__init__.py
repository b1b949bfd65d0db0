"""MQTT 3.1.1 and 3.1 packets: decoding a byte stream, encoding packets.

Supported: MQTT 3.1.1 (protocol name ``MQTT``, level 4) and MQTT 3.1 (``MQIsdp``, level 3),
every control packet of those versions (CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL,
PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT) in both
directions.

Not supported: MQTT 5. A CONNECT of protocol level 5 (or any other level) raises
``UnsupportedProtocolVersion``; the broker answers it with a 3.1.1 CONNACK carrying return code
0x01 (unacceptable protocol version) and closes the connection, as Mosquitto does. MQTT 5
clients that can fall back to 3.1.1 then retry with it.

A malformed packet or a violation of the protocol raises ``ProtocolError`` (an ``InvalidInput``);
the broker logs it and closes that one connection.
"""

from lorafox.bus.mqtt_codec import packets
from lorafox.bus.mqtt_codec.decoder import PacketDecoder
from lorafox.bus.mqtt_codec.packets import *  # noqa: F403 (the packets' names, listed once there)

__all__ = ["PacketDecoder"]
__all__ += packets.__all__
