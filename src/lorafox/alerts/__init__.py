"""Alerts: events of groups, device types and devices told to people by mail and chat.

``config`` (``AlertSubscriptions``: the alerts as a principal sees them), ``targets`` (mail
addresses and apprise URLs, checked by the callbacks' destination guard), ``notifier``
(``AlertNotifier``: events → digests → notifications, rate-limited), ``chat`` (apprise).
"""

from lorafox.alerts.chat import AppriseNotifications
from lorafox.alerts.config import ALERT_EVENTS, AlertChanges, AlertSubscriptions, Notified
from lorafox.alerts.notifier import AlertNotifier, TypeAlerts
from lorafox.alerts.targets import NotificationTargets

__all__ = [
    "ALERT_EVENTS",
    "AlertChanges",
    "AlertNotifier",
    "AlertSubscriptions",
    "AppriseNotifications",
    "NotificationTargets",
    "Notified",
    "TypeAlerts",
]
