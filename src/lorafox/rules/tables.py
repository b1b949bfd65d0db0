"""``RuleTables`` on lorafox's own tables: a rule writes as its group, with write access on the
tables of that subtree (a table outside it is ``ResourceNotFoundException``, as to an API user
of the group)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lorafox.tables.access import Access, TableCaller
from lorafox.tables.operations import TableOperations

__all__ = ["TablesForRules"]


class TablesForRules:
    """Implements ``lorafox.ports.rules.RuleTables``."""

    def __init__(self, operations: TableOperations, region: str = "us-east-1") -> None:
        self._operations = operations
        self._region = region

    async def write(self, group_path: str, operation: str, params: Mapping[str, Any]) -> None:
        await self._operations.run(operation, params, self._region, _caller(group_path))

    async def read(
        self, group_path: str, table: str, key: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        params = {"TableName": table, "Key": dict(key), "ConsistentRead": True}
        answer = await self._operations.run("GetItem", params, self._region, _caller(group_path))
        item: dict[str, Any] | None = answer.get("Item")
        return item


def _caller(group_path: str) -> TableCaller:
    return TableCaller("topic-rule", group_path, ((group_path, Access.WRITE),))
