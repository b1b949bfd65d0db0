"""The background work of the tables: building new indexes, deleting expired items.

``TableMaintenance.run`` is one task of the service. Every ``interval`` seconds, or at once
when an operation calls ``wake``:

- indexes in ``CREATING`` state (a global secondary index added by UpdateTable, or the
  time-to-live attribute just enabled) get the existing items, ``batch`` items per
  transaction, then become ``ACTIVE``. The table's writes maintain such an index from the
  moment it exists; the backfill waits ``grace`` seconds after its creation, so that writes
  that began before with the old definition (which every instance keeps for up to
  ``TABLE_CACHE_SECONDS``) have ended;
- items whose time-to-live attribute is a number of epoch seconds in the past (and not more
  than five years in the past, as DynamoDB) are deleted, ``batch`` per transaction, found
  through the time-to-live index by range — never by reading the table. Each item is checked
  again, locked, before it is deleted (a write may have renewed it);
- TransactWriteItems client tokens older than ten minutes are forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from lorafox.errors import StoreError
from lorafox.ports.tables import IndexEntry, ItemStore, StoredTable
from lorafox.tables.indexes import TTL_INDEX_ID, ttl_entry
from lorafox.tables.item_writes import TOKEN_WINDOW
from lorafox.tables.numbers import canonical_number, encode_number
from lorafox.tables.streams import RETENTION_MS, record_changes
from lorafox.tables.table import OpenTable

__all__ = ["TableMaintenance"]

log = logging.getLogger(__name__)

FIVE_YEARS = 5 * 365 * 24 * 3600


def _expired(attribute: str, now: float) -> Callable[[dict[str, Any]], bool]:
    limit = Decimal(repr(now))

    def expired(item: dict[str, Any]) -> bool:
        value = item.get(attribute)
        if not isinstance(value, Mapping) or "N" not in value:
            return False
        try:
            return limit - FIVE_YEARS <= Decimal(value["N"]) <= limit
        except InvalidOperation:  # pragma: no cover - stored numbers are valid
            return False

    return expired


class TableMaintenance:
    """Index backfills, the time-to-live purge and client-token expiry."""

    def __init__(
        self,
        store: ItemStore,
        *,
        interval: float = 30.0,
        batch: int = 500,
        grace: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._interval = interval
        self._batch = batch
        self._grace = grace
        self._clock = clock
        self._wake = asyncio.Event()
        self._stopping: asyncio.Event | None = None
        #: whether this instance runs the rounds now (one leader among several instances)
        self.leads: Callable[[], bool] = lambda: True

    def wake(self) -> None:
        """Run a round now (an index to build)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until ``stop`` is set; a failed round is logged and retried later."""
        self._stopping = stop
        while not stop.is_set():
            self._wake.clear()
            try:
                if self.leads():
                    await self.step()
            except StoreError as exc:
                log.warning("table maintenance failed, retrying later: %s", exc)
            except Exception:
                log.exception("table maintenance failed")
            waits = {
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(self._wake.wait()),
            }
            try:
                await asyncio.wait(
                    waits, timeout=self._interval, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for wait in waits:
                    wait.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await wait

    def _stopped(self) -> bool:
        return self._stopping is not None and self._stopping.is_set()

    async def step(self) -> int:
        """One round over every table; the number of expired items deleted."""
        deleted = 0
        for stored in await self._store.list_tables():
            if self._stopped():
                break
            await self._backfill(stored)
            deleted += await self.purge(stored)
        await self._store.purge_client_tokens(int((self._clock() - TOKEN_WINDOW) * 1000))
        await self._store.trim_stream_records(int(self._clock() * 1000) - RETENTION_MS)
        return deleted

    async def _backfill(self, stored: StoredTable) -> None:
        definition = stored.definition
        table = OpenTable(stored)
        pending: list[tuple[str, int, Callable[[Mapping[str, Any]], list[IndexEntry]]]] = []
        for raw in definition.get("Indexes", ()):
            if raw.get("IndexStatus") == "CREATING":
                index = table.indexes[raw["IndexName"]]

                def entries(item: Mapping[str, Any], index: Any = index) -> list[IndexEntry]:
                    entry = index.entry(item) if index.fits(item) else None
                    return [] if entry is None else [entry]

                pending.append((raw["IndexName"], int(raw.get("CreatedAt", 0)), entries))
        ttl = definition.get("TimeToLiveIndex")
        attribute = stored.ttl_attribute
        # A table whose time to live was enabled before the TTL index existed has none yet.
        building = not isinstance(ttl, Mapping) or ttl.get("IndexStatus") == "CREATING"
        if attribute is not None and building:

            def ttl_entries(item: Mapping[str, Any]) -> list[IndexEntry]:
                entry = ttl_entry(attribute, item)
                return [] if entry is None else [entry]

            created = int(ttl.get("CreatedAt", 0)) if isinstance(ttl, Mapping) else 0
            pending.append(("", created, ttl_entries))
        for name, created, indexer in pending:
            wait = created / 1000 + self._grace - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            after: tuple[bytes, bytes] | None = None
            while True:
                if self._stopped():
                    return
                after = await self._store.build_index(stored.id, indexer, after, self._batch)
                if after is None:
                    break
            await self._activate(stored, name)
            log.info("table %s: index %s is active", stored.name, name or "(time to live)")

    async def _activate(self, stored: StoredTable, name: str) -> None:
        def change(current: StoredTable) -> tuple[dict[str, Any], str | None]:
            definition = dict(current.definition)
            if not name:
                ttl = definition.get("TimeToLiveIndex")
                if current.ttl_attribute is not None:
                    known = dict(ttl) if isinstance(ttl, Mapping) else {}
                    definition["TimeToLiveIndex"] = {**known, "IndexStatus": "ACTIVE"}
                return definition, current.ttl_attribute
            definition["Indexes"] = [
                {**i, "IndexStatus": "ACTIVE"} if i["IndexName"] == name else i
                for i in definition.get("Indexes", ())
            ]
            return definition, current.ttl_attribute

        with contextlib.suppress(LookupError):  # the table was deleted meanwhile
            await self._store.update_table(stored.id, change)

    async def purge(self, stored: StoredTable) -> int:
        """Delete the table's expired items; how many."""
        attribute = stored.ttl_attribute
        if attribute is None:
            return 0
        now = self._clock()
        table = OpenTable(stored)
        assert table.indexer is not None  # noqa: S101
        lower = (encode_number(canonical_number(repr(now - FIVE_YEARS))), True)
        upper = (encode_number(canonical_number(repr(now))), True)
        is_expired = _expired(attribute, now)
        gone: list[dict[str, Any]] = []

        def expired(item: dict[str, Any]) -> bool:
            if is_expired(item):
                gone.append(item)  # deleted: recorded in the stream once committed
                return True
            return False

        deleted = 0
        while not self._stopped():
            keys = await self._store.index_keys(stored.id, TTL_INDEX_ID, lower, upper, self._batch)
            if not keys:
                break
            gone.clear()
            done = await self._store.purge_items(stored.id, keys, table.indexer, expired)
            await record_changes(
                self._store, table, [(item, None) for item in gone], now=now, service=True
            )
            deleted += done
            if done == 0 or len(keys) < self._batch:
                break
        if deleted:
            log.info("table %s: %d expired items deleted", stored.name, deleted)
        return deleted
