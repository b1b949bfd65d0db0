"""The SERVICE and ERROR report flow: what STATUS, ACKNOWLEDGE, DATA_ADVANCED and ERROR callbacks
change (a downlink's state, a device's status, a message's link quality and location), stored
with the events they raise in one transaction, then published."""

from lorafox.reports.service import ServiceReports

__all__ = ["ServiceReports"]
