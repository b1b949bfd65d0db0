"""``/console/tables``: the DynamoDB-compatible tables the session's user sees, read-only.

The list gives each table's keys, item count and size; a table's page browses its items a page
at a time (``Scan``) or finds them by key (``Query`` on the partition key, and the sort key
when given), each item shown as DynamoDB JSON. The pages run the same operations the DynamoDB
endpoint runs, as the session's user: its groups decide which tables it sees, as they do for
an API user (``lorafox.tables.access``). Writing items stays with the API and the SDKs.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import orjson
from fastapi import Path, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from lorafox.api.dynamodb import table_caller
from lorafox.console.context import Cx, Session, page_router
from lorafox.console.templating import NavItem
from lorafox.domain import Principal
from lorafox.tables.errors import DynamoDBError, ResourceNotFoundException
from lorafox.tables.operations import TableOperations

__all__ = ["NAV", "router"]

NAV = NavItem("Tables", "/console/tables", order=45)
router = page_router()

REGION = "us-east-1"
"""The region in the ARNs of the tables' error messages (as the rules' own table access)."""
PAGE_ITEMS = 25
MAX_TABLES = 100
"""The tables the list shows at most (ListTables' largest page)."""
MAX_KEY_VALUE = 2048
MAX_START = 4096
"""The longest ``start`` (the next page's key) accepted, before it is decoded."""

TableName = Annotated[str, Path(min_length=3, max_length=255)]


def _operations(cx: Cx) -> TableOperations:
    if cx.api.tables is None:
        raise HTTPException(404)
    return cx.api.tables


async def _run(
    cx: Cx, principal: Principal, operation: str, params: dict[str, Any]
) -> dict[str, Any]:
    caller = table_caller(principal, principal.name)
    return await _operations(cx).run(operation, params, REGION, caller)


@router.get("/console/tables")
async def table_list(request: Request, cx: Cx, session: Session) -> Response:
    principal = session.principal
    names = (await _run(cx, principal, "ListTables", {"Limit": MAX_TABLES}))["TableNames"]
    tables = []
    for name in names:
        try:
            described = await _run(cx, principal, "DescribeTable", {"TableName": name})
        except ResourceNotFoundException:  # deleted meanwhile
            continue
        tables.append(_summary(described["Table"]))
    page = {"tables": tables, "more": len(names) >= MAX_TABLES}
    return cx.templates.render(request, "tables/list.html", page)


@router.get("/console/tables/{name}")
async def table_page(
    request: Request,
    cx: Cx,
    session: Session,
    name: TableName,
    pk: str = "",
    sk: str = "",
    start: str = "",
) -> Response:
    principal = session.principal
    try:
        described = await _run(cx, principal, "DescribeTable", {"TableName": name})
    except ResourceNotFoundException:
        raise HTTPException(404) from None
    table = _summary(described["Table"])
    params: dict[str, Any] = {"TableName": name, "Limit": PAGE_ITEMS}
    error, items, next_start = "", [], ""
    try:
        if start:
            params["ExclusiveStartKey"] = _decoded_start(start)
        if pk:
            params |= _key_condition(table, pk, sk)
        answer = await _run(cx, principal, "Query" if pk else "Scan", params)
    except DynamoDBError as exc:
        error = str(exc)
    else:
        items = [_shown(table, item) for item in answer["Items"]]
        if "LastEvaluatedKey" in answer:
            next_start = _encoded_start(answer["LastEvaluatedKey"])
    page = {
        "table": table,
        "items": items,
        "pk": pk,
        "sk": sk,
        "start": start,
        "next_start": next_start,
        "error": error,
    }
    return cx.templates.render(request, "tables/table.html", page, status=400 if error else 200)


def _summary(table: dict[str, Any]) -> dict[str, Any]:
    """What the pages show of ``DescribeTable``'s table: its keys with their types."""
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    keys = {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]}
    hash_key, range_key = keys["HASH"], keys.get("RANGE")
    return {
        "name": table["TableName"],
        "status": table["TableStatus"],
        "count": table.get("ItemCount", 0),
        "bytes": table.get("TableSizeBytes", 0),
        "hash": (hash_key, types[hash_key]),
        "range": (range_key, types[range_key]) if range_key else None,
    }


def _shown(table: dict[str, Any], item: dict[str, Any]) -> dict[str, str]:
    """An item as a row: its keys' values, and the whole item as DynamoDB JSON."""
    ranged = table["range"]
    return {
        "hash": _plain(item.get(table["hash"][0])),
        "range": _plain(item.get(ranged[0])) if ranged else "",
        "json": orjson.dumps(item).decode(),
    }


def _plain(value: Any) -> str:
    """A key attribute's value (``{"S": "a"}``: ``a``)."""
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value.values())))
    return ""


def _key_condition(table: dict[str, Any], pk: str, sk: str) -> dict[str, Any]:
    """``Query``'s parameters for the partition key ``pk`` and, when given, the sort key
    ``sk``: each typed as the table declares it (binary keys given in base64)."""
    if len(pk) > MAX_KEY_VALUE or len(sk) > MAX_KEY_VALUE:
        raise _Invalid(f"A key value is at most {MAX_KEY_VALUE} characters.")
    (hash_name, hash_type), ranged = table["hash"], table["range"]
    names = {"#h": hash_name}
    values = {":h": {hash_type: pk}}
    condition = "#h = :h"
    if sk:
        if ranged is None:
            raise _Invalid(f"The table {table['name']} has no sort key.")
        names["#r"], values[":r"] = ranged[0], {ranged[1]: sk}
        condition += " AND #r = :r"
    return {
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


class _Invalid(DynamoDBError):
    """A search the page cannot make (shown on the page, as DynamoDB's own refusals are)."""


def _encoded_start(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode()


def _decoded_start(start: str) -> dict[str, Any]:
    if len(start) > MAX_START:
        raise _Invalid("The page to start from is not one this page gave.")
    try:
        key = orjson.loads(base64.urlsafe_b64decode(start.encode()))
    except (binascii.Error, ValueError):
        raise _Invalid("The page to start from is not one this page gave.") from None
    if not isinstance(key, dict):
        raise _Invalid("The page to start from is not one this page gave.")
    return key
