"""Alert subscriptions (``AlertRepository``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from lorafox.domain import Alert
from lorafox.store.sql.database import Repository
from lorafox.store.sql.rows import columns, record
from lorafox.store.sql.tables import alerts

__all__ = ["AlertRepository"]


def _alert(row: Row[Any]) -> Alert:
    m = row._mapping
    return record(
        Alert,
        row,
        event_types=tuple(m["event_types"] or ()),
        emails=tuple(m["emails"] or ()),
        urls=tuple(m["urls"] or ()),
    )


def _values(alert: Alert) -> dict[str, Any]:
    values = columns(alert, alerts)
    values.update(
        event_types=list(alert.event_types), emails=list(alert.emails), urls=list(alert.urls)
    )
    return values


class AlertRepository(Repository):
    """Implements ``lorafox.ports.alerts.AlertStore``."""

    async def all_alerts(self) -> list[Alert]:
        query = select(alerts).order_by(alerts.c.created_at, alerts.c.id)
        async with self._db.reading() as conn:
            return [_alert(row) for row in await conn.execute(query)]

    async def get_alert(self, alert_id: str) -> Alert | None:
        return await self._first(select(alerts).where(alerts.c.id == alert_id), _alert)

    async def create_alert(self, alert: Alert) -> None:
        async with self._db.writing() as conn:
            await conn.execute(insert(alerts).values(_values(alert)))

    async def update_alert(self, alert: Alert) -> None:
        values = _values(alert)
        for fixed in ("id", "group_id", "created_at", "created_by"):
            values.pop(fixed)
        async with self._db.writing() as conn:
            await conn.execute(update(alerts).where(alerts.c.id == alert.id).values(values))

    async def delete_alert(self, alert_id: str) -> None:
        async with self._db.writing() as conn:
            await conn.execute(delete(alerts).where(alerts.c.id == alert_id))
