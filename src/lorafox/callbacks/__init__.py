"""Outgoing callbacks: a sink of the uplink flow that forwards each message to the URLs its
device type's callbacks name, as the Sigfox Back-End does.

``config`` (the callbacks of a device type), ``directory`` (the enabled ones, in memory),
``templates`` (Sigfox's variables), ``requests`` (a callback's request for a message),
``lanes`` (stored uplinks → first attempts, a cursor per callback), ``shared_lanes`` (instances
sharing a database: stored uplinks → rows of the outbox, once), ``sender`` (first
attempts and the outbox's deliveries → HTTP requests, retried), ``downlink_hook`` (the BIDIR
callback that answers a device waiting for a downlink), ``destinations`` (which addresses
requests may reach), ``failures`` (what was not delivered), ``duplicates`` (other stations'
copies, for ``sendDuplicate``).
"""

from lorafox.callbacks.config import CallbackChanges, DeviceTypeCallbacks
from lorafox.callbacks.destinations import DestinationGuard
from lorafox.callbacks.directory import CallbackDirectory
from lorafox.callbacks.downlink_hook import DownlinkHooks
from lorafox.callbacks.duplicates import DuplicateForwarder
from lorafox.callbacks.failures import NotDelivered
from lorafox.callbacks.lanes import Lanes
from lorafox.callbacks.sender import CallbackSender, Delivering

__all__ = [
    "CallbackChanges",
    "CallbackDirectory",
    "CallbackSender",
    "Delivering",
    "DestinationGuard",
    "DeviceTypeCallbacks",
    "DownlinkHooks",
    "DuplicateForwarder",
    "Lanes",
    "NotDelivered",
]
