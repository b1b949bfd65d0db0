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
        caller = TableCaller("topic-rule", group_path, ((group_path, Access.WRITE),))
        await self._operations.run(operation, params, self._region, caller)
