"""Who may do what to a table.

A table belongs to a group (the group of the API user that created it); it is visible only
within that group's subtree, as devices are. What a caller may do on a visible table follows
its strongest grant above the table's group:

    READ    (VIEWER)          DescribeTable, ListTables, GetItem, BatchGetItem, TransactGetItems,
                              Query, Scan, DescribeTimeToLive, ListTagsOfResource,
                              DescribeContinuousBackups, and the streams API (ListStreams,
                              DescribeStream, GetShardIterator, GetRecords); DescribeEndpoints:
                              any signed caller
    WRITE   (DEVICE_MANAGER)  + PutItem, UpdateItem, DeleteItem, BatchWriteItem,
                              TransactWriteItems
    MANAGE  (ADMIN)           + CreateTable (in its own group), UpdateTable, DeleteTable,
                              UpdateTimeToLive, TagResource, UntagResource

A table the caller does not see is ``ResourceNotFoundException``, exactly as a table that does
not exist (its name is not confirmed); one it sees but may not change is
``AccessDeniedException`` in AWS's words. Table names stay unique across groups.

``TableOperations.run`` takes the caller and holds it (with what the operation needs) for the
request in a context variable, so that every table the request opens — batches and
transactions name several — is checked the same way.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass
from enum import IntEnum

from lorafox.ports.tables import StoredTable
from lorafox.tables.errors import AccessDeniedException, ResourceNotFoundException

__all__ = [
    "NEEDED",
    "Access",
    "TableCaller",
    "checked",
    "current",
    "home_for_new",
    "release",
    "requiring",
]


class Access(IntEnum):
    READ = 0
    WRITE = 1
    MANAGE = 2


NEEDED: dict[str, Access] = {
    "DescribeTable": Access.READ,
    "ListTables": Access.READ,
    "GetItem": Access.READ,
    "BatchGetItem": Access.READ,
    "TransactGetItems": Access.READ,
    "Query": Access.READ,
    "Scan": Access.READ,
    "DescribeTimeToLive": Access.READ,
    "ListTagsOfResource": Access.READ,
    "DescribeContinuousBackups": Access.READ,
    "ListStreams": Access.READ,
    "DescribeStream": Access.READ,
    "GetShardIterator": Access.READ,
    "GetRecords": Access.READ,
    "PutItem": Access.WRITE,
    "UpdateItem": Access.WRITE,
    "DeleteItem": Access.WRITE,
    "BatchWriteItem": Access.WRITE,
    "TransactWriteItems": Access.WRITE,
    "CreateTable": Access.MANAGE,
    "UpdateTable": Access.MANAGE,
    "DeleteTable": Access.MANAGE,
    "UpdateTimeToLive": Access.MANAGE,
    "TagResource": Access.MANAGE,
    "UntagResource": Access.MANAGE,
}
"""What each operation needs on the tables it names."""


@dataclass(frozen=True, slots=True)
class TableCaller:
    """An authenticated caller: ``grants`` (group path, access) and where its tables go."""

    name: str
    """For error messages: the API user's login."""
    home: str
    """The group path of the tables it creates."""
    grants: tuple[tuple[str, Access], ...]
    account: str = "000000000000"

    def access_at(self, path: str | None) -> Access | None:
        """Its access on a table of the group at ``path``; None when it does not see it."""
        if path is None:
            return None
        held = [access for root, access in self.grants if path.startswith(root)]
        return max(held) if held else None

    def visible_roots(self) -> tuple[str, ...]:
        return tuple(root for root, _ in self.grants)

    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:user/{self.name}"


_Held = tuple[TableCaller, str, str]
"""(caller, operation, region) of the current request."""
_current: ContextVar[_Held | None] = ContextVar("lorafox_table_caller")


def requiring(caller: TableCaller | None, operation: str, region: str) -> Token[_Held | None]:
    """Hold the caller of the current request (``_current.reset`` with the token undoes it)."""
    return _current.set(None if caller is None else (caller, operation, region))


def release(token: Token[_Held | None]) -> None:
    _current.reset(token)


def current() -> TableCaller | None:
    """The caller of the current request (None: lorafox itself, with every right)."""
    held = _current.get(None)
    return None if held is None else held[0]


def checked(stored: StoredTable | None, name: str, *, described: bool = False) -> StoredTable:
    """``stored`` when the current caller may do the current operation on it; else
    ``ResourceNotFoundException`` (absent or not visible: ``described`` gives DescribeTable's
    wording) or ``AccessDeniedException``."""
    if stored is None:
        raise _not_found(name, described)
    _require(stored.group_path, name, described)
    return stored


def home_for_new(name: str) -> str | None:
    """The group path a table the current caller creates goes to, once it may create it there
    (None: lorafox itself, whose tables belong to no group)."""
    held = _current.get(None)
    if held is None:
        return None
    home = held[0].home
    _require(home, name, described=False)
    return home


def _not_found(name: str, described: bool) -> ResourceNotFoundException:
    return ResourceNotFoundException.table(name) if described else ResourceNotFoundException()


def _require(path: str | None, name: str, described: bool) -> None:
    """The current caller sees the group at ``path`` and holds what the operation needs."""
    held = _current.get(None)
    if held is None:
        return
    caller, operation, region = held
    access = caller.access_at(path)
    if access is None:
        raise _not_found(name, described)
    if access < NEEDED.get(operation, Access.MANAGE):
        raise AccessDeniedException(
            f"User: {caller.arn()} is not authorized to perform: dynamodb:{operation} on "
            f"resource: arn:aws:dynamodb:{region}:{caller.account}:table/{name}"
        )
