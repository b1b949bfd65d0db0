"""Device events: the log (stored, then published), keep-alive and lost-message detection, and
the SERVICE/ERROR callback reports."""

from lorafox.events.keepalive import ActivityMonitor
from lorafox.events.log import EventLog, event_json
from lorafox.events.reports import ServiceReports, registration_refused

__all__ = ["ActivityMonitor", "EventLog", "ServiceReports", "event_json", "registration_refused"]
