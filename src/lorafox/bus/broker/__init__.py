"""The embedded MQTT broker: a lean asyncio MQTT 5, 3.1.1 and 3.1 broker inside the lorafox process.

``EmbeddedBroker`` listens for network clients (devices, dashboards, Node-RED, ...) and offers
the rest of lorafox an in-process API: ``publish_nowait`` (synchronous, one call per uplink,
allocation-light) and ``subscribe`` (a coroutine called for every message a network client
publishes). ``EmbeddedBus`` wraps it in the ``Bus`` protocol of ``lorafox.ports.bus``.

The pieces: ``connection`` (one client's bytes, state machine, keep-alive and acks),
``aliases`` (its MQTT 5 topic aliases), ``session`` (a client id's subscriptions and queue),
``sessions`` (the sessions by client id and their expiry), ``message`` (a message and its
encodings), ``router`` (delivery), ``subscriptions`` (SUBSCRIBE and UNSUBSCRIBE), ``shared``
(shared subscriptions), ``connack`` (MQTT 5 CONNACK properties and refusal codes),
``retained`` (retained messages), ``admission`` (connection counts), ``access`` (identities,
audiences and the policy hook), ``limits`` (every bound), ``broker`` (logins, takeover, wills
and lifecycle), ``bus`` (the ``Bus`` protocol). Packets are encoded and
decoded by ``lorafox.bus.mqtt_codec``; topic matching is ``lorafox.bus.topics``.

What the broker does:

* MQTT 5 (level 5), 3.1.1 (level 4) and 3.1 (level 3); a CONNECT of another level gets
  CONNACK 0x01 and is closed; 3.1 clients follow the 3.1.1 rules (client identifiers longer
  than 23 characters are fine, CONNACK never says "session present");
* admission: at most ``max_connections`` connections, ``max_connections_per_address`` from one
  address and ``max_unauthenticated`` not logged in yet (more are closed at once); before its
  login a client may send one packet of at most ``max_connect_bytes`` and must be logged in
  within ``connect_timeout`` seconds, however slowly its bytes come;
* client identifiers: an empty one with clean session gets a generated identifier, an empty one
  without clean session is refused (CONNACK 0x02); a session belongs to the login that made it:
  another login using its client id is refused (CONNACK 0x05); the same login connecting again
  takes the session over and closes the first connection (whose will is published);
* authentication through an async callback ``(username, password, address) -> Identity | None``;
  without a user name a client is anonymous (refused with CONNACK 0x05 unless
  ``allow_anonymous``); wrong credentials get CONNACK 0x04; a failing callback gets 0x03;
* access control (``access.AccessPolicy``): a publish the client may not make is dropped and
  logged, a subscription it may not make is refused (SUBACK 0x80); no client publishes to a
  ``$`` topic; every message reaches only the clients its audience allows;
* QoS 0, 1 and 2 in both directions; a subscriber receives at min(publish QoS, granted QoS),
  once per message even with overlapping subscriptions (at the highest of their QoS); a client's
  QoS 1/2 PUBLISH is acknowledged once the in-process handlers it reached are done, in order; an
  acknowledgement of the wrong kind (PUBACK for QoS 2, PUBREC for QoS 1) or a QoS 0 PUBLISH
  with DUP is a protocol error;
* retained messages (in memory, at most ``max_retained`` messages and ``max_retained_bytes``;
  an empty payload clears them), sent with the retain flag on subscription; live deliveries
  always carry retain 0;
* wills, published when a connection ends without DISCONNECT (closed by the peer, keep-alive
  timeout after 1.5 times the keep-alive, protocol error, takeover), not when the broker stops;
  keep-alive counts whole packets, and is not held against a client while the broker has
  stopped reading from it;
* persistent sessions (clean session 0) in memory, at most ``max_sessions``, forgotten
  ``session_expiry`` seconds after their last connection: subscriptions survive disconnection,
  QoS 1 and 2 messages queue while the client is away (at most ``max_queued_messages`` and
  ``max_queued_bytes``, oldest dropped first), unacknowledged messages are re-sent with DUP on
  reconnection, CONNACK says whether a session was present. Sessions are not written to disk;
* slow consumers: each connection has write-buffer limits; while its buffer is full, QoS 0
  messages for it are dropped (counted, logged once per 10,000) and QoS 1/2 messages queue as
  above, and the broker stops reading from it. The publisher never waits for a slow subscriber;
* in-process handlers (``subscribe``) run in tasks of their own; while more than 10,000 of them
  are pending the broker stops reading from the network clients that publish to them.

* MQTT 5: properties and reason codes on every packet (a malformed packet: DISCONNECT 0x81),
  session expiry interval and clean start, message expiry, topic aliases both ways (at most
  ``topic_alias_maximum``), properties passed through to subscribers, subscription options
  (no local, retain as published, retain handling) and identifiers, receive maximum both ways
  (``receive_maximum`` from the client), the client's maximum packet size, server keep-alive
  (``server_keep_alive``), will delay, response information, DISCONNECT with reason codes
  (0x8E takeover, 0x8D keep-alive, 0x87 not authorized, 0x93, 0x94), CONNACK 0x97 when the
  sessions are full; refusals by access control answer 0x87 (SUBACK, PUBACK, PUBREC); AUTH is
  refused (CONNACK 0x8C, or DISCONNECT 0x82); lorafox's own messages carry a content type and
  a correlation id;
* shared subscriptions ``$share/{group}/{filter}`` for every protocol level;
* ``refused_filters``: filters no client may subscribe to (SUBACK 0x80).

Not supported: extended authentication, WebSockets, TLS (put a reverse proxy in front),
``$SYS`` topics, bridging, sessions on disk.

Everything runs on the event loop of ``start()``; call ``publish_nowait`` from that loop only.
"""

from lorafox.bus.broker.access import ANONYMOUS, AccessPolicy, Identity, OpenAccess
from lorafox.bus.broker.broker import Authenticator, BrokerStats, EmbeddedBroker
from lorafox.bus.broker.bus import EmbeddedBus
from lorafox.bus.broker.limits import BrokerLimits

__all__ = [
    "ANONYMOUS",
    "AccessPolicy",
    "Authenticator",
    "BrokerLimits",
    "BrokerStats",
    "EmbeddedBroker",
    "EmbeddedBus",
    "Identity",
    "OpenAccess",
]
