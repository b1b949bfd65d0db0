"""Device events: the log (stored, then published), keep-alive and lost-message detection."""

from lorafox.events.keepalive import ActivityMonitor
from lorafox.events.log import EventLog, event_json

__all__ = ["ActivityMonitor", "EventLog", "event_json"]
