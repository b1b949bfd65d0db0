"""Frozen value objects shared by every layer."""

from lorafox.domain.messages import Downlink, DownlinkState, StoredUplink, Uplink

__all__ = ["Downlink", "DownlinkState", "StoredUplink", "Uplink"]
