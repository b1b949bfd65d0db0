"""LoRa integrations and the LoRa side of the downlink queue on SQLAlchemy Core."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, delete, false, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from lorafox.domain import Downlink, DownlinkState, LoraIntegration, LoraKind
from lorafox.errors import Conflict, NotFound
from lorafox.store.sql.database import Repository
from lorafox.store.sql.downlinks import downlink_from_row, enqueue_once
from lorafox.store.sql.rows import columns
from lorafox.store.sql.tables import downlinks, groups, lora_devices, lora_integrations, messages

__all__ = ["LoraRepository"]

_ENDED = (DownlinkState.ACKED, DownlinkState.FAILED, DownlinkState.EXPIRED)


def _integration(row: Row[Any]) -> LoraIntegration:
    m = row._mapping
    return LoraIntegration(
        id=m["id"],
        name=m["name"],
        kind=LoraKind(m["kind"]),
        group_id=m["group_id"],
        token_hash=m["token_hash"],
        created_at=m["created_at"],
        device_type_id=m["device_type_id"],
        app_eui=m["app_eui"],
        config=dict(m["config"] or {}),
    )


class LoraRepository(Repository):
    """Implements ``lorafox.ports.lora``'s ``LoraIntegrationStore``, ``LoraDownlinkStore`` and
    ``LoraMessageStore``."""

    async def create_lora_integration(self, integration: LoraIntegration) -> None:
        async with self._db.writing() as conn:
            try:
                await conn.execute(
                    insert(lora_integrations).values(columns(integration, lora_integrations))
                )
            except IntegrityError as exc:
                raise Conflict("the LoRa integration cannot be created in this group") from exc

    async def get_lora_integration(self, integration_id: str) -> LoraIntegration | None:
        query = select(lora_integrations).where(lora_integrations.c.id == integration_id)
        return await self._first(query, _integration)

    async def list_lora_integrations(
        self, paths: Sequence[str] | None, *, limit: int = 100, offset: int = 0
    ) -> list[LoraIntegration]:
        query = select(lora_integrations)
        if paths is not None:
            query = query.join(groups, groups.c.id == lora_integrations.c.group_id).where(
                or_(*(groups.c.path.startswith(p, autoescape=True) for p in paths))
                if paths
                else false()
            )
        query = query.order_by(lora_integrations.c.id).limit(limit).offset(offset)
        async with self._db.reading() as conn:
            return [_integration(row) for row in await conn.execute(query)]

    async def update_lora_integration(self, integration: LoraIntegration) -> None:
        values = {
            "name": integration.name,
            "device_type_id": integration.device_type_id,
            "app_eui": integration.app_eui,
            "config": integration.config,
        }
        async with self._db.writing() as conn:
            result = await conn.execute(
                update(lora_integrations)
                .where(lora_integrations.c.id == integration.id)
                .values(values)
            )
        if not result.rowcount:
            raise NotFound("LoRa integration not found")

    async def delete_lora_integration(self, integration_id: str) -> None:
        async with self._db.writing() as conn:
            await conn.execute(
                delete(lora_integrations).where(lora_integrations.c.id == integration_id)
            )

    # -- messages -------------------------------------------------------------------------------

    async def set_message_extra(
        self, device: str, time: int, seq_number: int, extra: dict[str, Any]
    ) -> bool:
        stmt = (
            update(messages)
            .where(
                messages.c.device == device,
                messages.c.time == time,
                messages.c.seq_number == seq_number,
            )
            .values(extra=extra)
        )
        async with self._db.writing() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def locate_latest_message(
        self, device: str, lat: float, lng: float, radius: int | None
    ) -> bool:
        latest = (
            select(messages.c.id)
            .where(messages.c.device == device)
            .order_by(messages.c.time.desc(), messages.c.id.desc())
            .limit(1)
        )
        stmt = (
            update(messages)
            .where(messages.c.id == latest.scalar_subquery())
            .values(computed_lat=lat, computed_lng=lng, computed_radius=radius)
        )
        async with self._db.writing() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    # -- downlink routes ------------------------------------------------------------------------

    async def save_lora_device(
        self, device: str, integration_id: str | None, context: dict[str, str]
    ) -> None:
        values = {"integration_id": integration_id, "context": context, "updated_at": _now()}
        stmt = (
            self._db.insert(lora_devices)
            .values(dev_eui=device, **values)
            .on_conflict_do_update(index_elements=[lora_devices.c.dev_eui], set_=values)
        )
        async with self._db.writing() as conn:
            await conn.execute(stmt)

    async def save_lora_devices(
        self, devices: Sequence[tuple[str, str | None, dict[str, str]]]
    ) -> None:
        if not devices:
            return
        now = _now()
        async with self._db.writing() as conn:
            for device, integration_id, context in devices:
                values = {"integration_id": integration_id, "context": context, "updated_at": now}
                stmt = (
                    self._db.insert(lora_devices)
                    .values(dev_eui=device, **values)
                    .on_conflict_do_update(index_elements=[lora_devices.c.dev_eui], set_=values)
                )
                await conn.execute(stmt)

    async def lora_devices(self, *, limit: int) -> list[tuple[str, str | None, dict[str, str]]]:
        query = select(lora_devices).order_by(lora_devices.c.updated_at.desc()).limit(limit)
        async with self._db.reading() as conn:
            rows = (await conn.execute(query)).all()
        return [
            (r.dev_eui, r.integration_id, {str(k): str(v) for k, v in (r.context or {}).items()})
            for r in rows
        ]

    async def release_lora_claims(self, claim: str) -> list[str]:
        stmt = (
            update(downlinks)
            .where(
                downlinks.c.state == DownlinkState.QUEUED.value,
                downlinks.c.port.is_not(None),
                downlinks.c.network_id == claim,
            )
            .values(network_id=None)
        )
        waiting = (
            select(downlinks.c.device)
            .where(
                downlinks.c.state == DownlinkState.QUEUED.value,
                downlinks.c.port.is_not(None),
                downlinks.c.network_id.is_(None),
            )
            .distinct()
        )
        async with self._db.writing() as conn:
            await conn.execute(stmt)
            return [r[0] for r in (await conn.execute(waiting)).all()]

    # -- downlinks ------------------------------------------------------------------------------

    async def enqueue_lora_downlink(
        self,
        device: str,
        data: str,
        *,
        port: int,
        confirmed: bool,
        source: str,
        request_id: str | None = None,
    ) -> Downlink:
        values = {
            "device": device,
            "data": data,
            "state": DownlinkState.QUEUED.value,
            "source": source,
            "created_at": _now(),
            "port": port,
            "confirmed": confirmed,
            "request_id": request_id,
        }
        downlink, _ = await enqueue_once(self._db, values)
        return downlink

    async def claim_lora_downlinks(self, device: str, claim: str, *, limit: int) -> list[Downlink]:
        queued = and_(
            downlinks.c.state == DownlinkState.QUEUED.value,
            downlinks.c.port.is_not(None),
            downlinks.c.network_id.is_(None),
        )
        oldest = (
            select(downlinks.c.id)
            .where(downlinks.c.device == device, queued)
            .order_by(downlinks.c.id)
            .limit(limit)
        )
        if self._db.postgres:
            oldest = oldest.with_for_update(skip_locked=True)
        take = (
            update(downlinks)
            .where(downlinks.c.id.in_(oldest.scalar_subquery()), queued)
            .values(network_id=claim)
            .returning(*downlinks.c)
        )
        async with self._db.writing() as conn:
            rows = (await conn.execute(take)).all()
        return sorted((downlink_from_row(r) for r in rows), key=lambda d: d.id)

    async def get_lora_downlink(self, downlink_id: int) -> Downlink | None:
        query = select(downlinks).where(
            downlinks.c.id == downlink_id, downlinks.c.port.is_not(None)
        )
        return await self._first(query, downlink_from_row)

    async def set_lora_downlink(
        self,
        downlink_id: int,
        state: DownlinkState,
        *,
        network_id: str | None = None,
        info_message: str | None = None,
    ) -> Downlink | None:
        values: dict[str, Any] = {"state": state.value}
        now = _now()
        if state is DownlinkState.SENT:
            values["sent_at"] = now
        if state in _ENDED:
            values["ended_at"] = now
        if network_id is not None:
            values["network_id"] = network_id or None
        if info_message is not None:
            values["info_message"] = info_message[:250]
        stmt = (
            update(downlinks)
            .where(downlinks.c.id == downlink_id, downlinks.c.port.is_not(None))
            .values(values)
            .returning(*downlinks.c)
        )
        async with self._db.writing() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else downlink_from_row(row)

    async def find_lora_downlink(self, device: str, network_id: str) -> Downlink | None:
        query = (
            select(downlinks)
            .where(downlinks.c.device == device, downlinks.c.network_id == network_id)
            .order_by(downlinks.c.id.desc())
            .limit(1)
        )
        return await self._first(query, downlink_from_row)


def _now() -> int:
    return int(time.time() * 1000)
