"""Outgoing callbacks: a sink of the uplink flow that forwards each message to the URLs its
device type's callbacks name, as the Sigfox Back-End does.

``config`` (the callbacks of a device type), ``templates`` (Sigfox's variables), ``dispatch``
(stored uplinks → stored deliveries), ``sender`` (deliveries → HTTP requests, retried),
``destinations`` (which addresses requests may reach), ``failures`` (what was not delivered).
"""

from lorafox.callbacks.config import CallbackChanges, DeviceTypeCallbacks
from lorafox.callbacks.destinations import DestinationGuard
from lorafox.callbacks.dispatch import CallbackDispatcher
from lorafox.callbacks.failures import NotDelivered
from lorafox.callbacks.sender import CallbackSender, Delivering

__all__ = [
    "CallbackChanges",
    "CallbackDispatcher",
    "CallbackSender",
    "Delivering",
    "DestinationGuard",
    "DeviceTypeCallbacks",
    "NotDelivered",
]
