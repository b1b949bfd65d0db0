"""Alert subscriptions: which events of a group, device type or device are told to whom."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Alert"]


@dataclass(slots=True, frozen=True)
class Alert:
    """Events of ``event_types`` in the group (and its subgroups), narrowed to one device type
    or one device, sent by mail to ``emails`` and through apprise to ``urls``: the events of
    ``digest_seconds`` gathered into one notification, ``max_per_hour`` notifications at most."""

    id: str
    group_id: str
    name: str
    event_types: tuple[str, ...]
    created_at: int
    device_type_id: str | None = None
    device: str | None = None
    emails: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    enabled: bool = True
    digest_seconds: int = 60
    max_per_hour: int = 10
    created_by: str | None = None
