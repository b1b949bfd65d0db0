"""Position data of a device's messages on SQLAlchemy Core (``LocationRepository``): both
queries are range reads of the ``(device, time, seq_number)`` index."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select, tuple_

from lorafox.ports.locations import MessagePosition, StationPosition
from lorafox.store.sql.database import Repository
from lorafox.store.sql.tables import messages

__all__ = ["LocationRepository"]


def _stations(first: str | None, duplicates: Any) -> tuple[str, ...]:
    """The ids of the stations that heard a message, each once, the callback's first."""
    found = [first] if first else []
    if isinstance(duplicates, list):
        for entry in duplicates:
            bs_id = entry.get("bsId") if isinstance(entry, dict) else None
            if isinstance(bs_id, str | int) and str(bs_id).strip():
                found.append(str(bs_id).strip().upper())
    return tuple(dict.fromkeys(s.upper() for s in found))


class LocationRepository(Repository):
    """Implements ``lorafox.ports.locations.LocationStore``."""

    async def message_positions(
        self,
        device: str,
        *,
        limit: int,
        before: tuple[int, int] | None = None,
        registered_at: int | None = None,
    ) -> list[MessagePosition]:
        m = messages.c
        query = select(
            m.time,
            m.seq_number,
            m.lat,
            m.lng,
            m.station,
            m.advanced["duplicates"].label("duplicates"),
            m.computed_lat,
            m.computed_lng,
            m.computed_radius,
            m.computed_source,
        ).where(
            m.device == device,
            or_(
                m.computed_lat.is_not(None),
                m.lat.is_not(None),
                m.station.is_not(None),
                m.advanced.is_not(None),
            ),
        )
        if before is not None:
            query = query.where(tuple_(m.time, m.seq_number) < tuple_(*before))
        if registered_at is not None:
            query = query.where(m.received_at >= registered_at)
        query = query.order_by(m.time.desc(), m.seq_number.desc()).limit(limit)
        async with self._db.reading() as conn:
            rows = (await conn.execute(query)).all()
        return [
            MessagePosition(
                time=r.time,
                seq_number=r.seq_number,
                lat=r.lat if r.lng is not None else None,
                lng=r.lng if r.lat is not None else None,
                station=r.station,
                stations=_stations(r.station, r.duplicates),
                computed_lat=r.computed_lat if r.computed_lng is not None else None,
                computed_lng=r.computed_lng if r.computed_lat is not None else None,
                computed_radius=r.computed_radius,
                computed_source=r.computed_source,
            )
            for r in rows
        ]

    async def station_positions(self, device: str) -> dict[str, StationPosition]:
        m = messages.c
        query = (
            select(m.station, func.avg(m.lat), func.avg(m.lng), func.count())
            .where(
                m.device == device,
                m.station.is_not(None),
                m.lat.is_not(None),
                m.lng.is_not(None),
            )
            .group_by(m.station)
        )
        async with self._db.reading() as conn:
            rows = (await conn.execute(query)).all()
        found: dict[str, StationPosition] = {}
        for station, lat, lng, count in rows:
            key = str(station).strip().upper()
            known = found.get(key)
            here = StationPosition(float(lat), float(lng), int(count))
            if known is not None:  # the same station written in two cases
                total = known.messages + here.messages
                here = StationPosition(
                    (known.lat * known.messages + here.lat * here.messages) / total,
                    (known.lng * known.messages + here.lng * here.messages) / total,
                    total,
                )
            found[key] = here
        return found
