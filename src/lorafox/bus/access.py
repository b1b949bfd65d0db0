"""lorafox's MQTT permissions on the embedded broker, from each client's grants.

* Any user or API user may log in; what it reads follows its groups: it receives the uplinks
  and events of the devices in the subtrees it sees (a grant on the root group: everything),
  and what other clients of those subtrees publish.
* Only lorafox publishes uplinks, events and downlink rejections (``sigfox/uplink/…``,
  ``sigfox/events/…``, ``…/rejected`` and ``lora/…``): a client's publish there is dropped.
* Publishing a downlink request needs DEVICE_MANAGER on some group; the downlink flow then
  checks that the device is one the client may operate (else ``…/rejected``).
* Anything else a client publishes reaches the clients who see its groups.
"""

from __future__ import annotations

from lorafox.auth import rbac
from lorafox.bus.broker import Identity
from lorafox.bus.topics import filter_matcher
from lorafox.devices.devices import Devices
from lorafox.domain import Group, Principal
from lorafox.errors import NotFound
from lorafox.ports.bus import Audience
from lorafox.settings import MqttSettings

__all__ = ["TopicAccess"]


def _device_pattern(template: str) -> tuple[str, int | None]:
    """A topic template (``sigfox/uplink/{device}``) as a filter and the level of the device."""
    levels = template.split("/")
    level = levels.index("{device}") if "{device}" in levels else None
    return "/".join("+" if part.startswith("{") else part for part in levels), level


class TopicAccess:
    """The ``AccessPolicy`` of lorafox's embedded broker (see the module docstring)."""

    def __init__(self, mqtt: MqttSettings, devices: Devices, root: Group) -> None:
        self._devices = devices
        self._root = root
        uplink, self._uplink_level = _device_pattern(mqtt.uplink_topic)
        events, self._events_level = _device_pattern(mqtt.events_topic)
        downlink = mqtt.downlink_topic
        self._uplinks = filter_matcher(uplink)
        self._events = filter_matcher(events)
        sigfox_downlinks = filter_matcher(downlink)
        lora_downlinks = filter_matcher("lora/downlink/+")
        lora = filter_matcher("lora/#")

        def downlinks(topic: str) -> bool:
            return sigfox_downlinks(topic) or lora_downlinks(topic)

        def lora_owned(topic: str) -> bool:  # lora/…, but for LoRa downlink requests
            return lora(topic) and not lora_downlinks(topic)

        self._downlinks = downlinks
        self._owned = [self._uplinks, self._events, lora_owned, self._rejection]

    def _rejection(self, topic: str) -> bool:
        """``<a downlink topic>/rejected``: where lorafox answers a refused downlink request."""
        return topic.endswith("/rejected") and self._downlinks(topic.removesuffix("/rejected"))

    def identity(self, principal: Principal) -> Identity:
        """The broker identity of a logged-in user or API user."""
        roots = rbac.visible_roots(principal)
        reads = None if self._root.path in roots else roots
        return Identity(f"{principal.kind.value}:{principal.id}", reads, principal)

    # -- AccessPolicy ---------------------------------------------------------------------------

    def may_publish(self, identity: Identity, topic: str) -> bool:
        if any(owned(topic) for owned in self._owned):
            return False
        if self._downlinks(topic):
            principal = identity.principal
            if isinstance(principal, Principal):
                return rbac.holds_anywhere(principal, rbac.OPERATE)
        return True

    def may_subscribe(self, identity: Identity, topic_filter: str) -> bool:
        return True  # what reaches a subscriber is filtered by each message's audience

    def audience_of_client(self, identity: Identity) -> Audience:
        return identity.reads

    # -- what lorafox publishes -----------------------------------------------------------------

    def _device_in(self, topic: str) -> str | None:
        """The device id of an uplink or event topic of lorafox's, else None."""
        if topic.startswith("lora/") and topic.count("/") == 2:  # lora/{appeui}/{deveui}
            if topic.startswith("lora/downlink/"):
                return None
            return topic.rsplit("/", 1)[1]
        for match, level in (
            (self._uplinks, self._uplink_level),
            (self._events, self._events_level),
        ):
            if level is not None and match(topic):
                return topic.split("/")[level]
        return None

    async def audience_of(self, topic: str) -> Audience:
        """Who may read lorafox's own message on ``topic``: the device's group subtree for an
        uplink or an event; only those who see everything otherwise."""
        device = self._device_in(topic)
        if device is None:
            return None
        try:
            path = await self._devices.registered_path(device)
        except NotFound:  # its group went away meanwhile
            return None
        return None if path is None else (path,)  # not registered: the root group's
