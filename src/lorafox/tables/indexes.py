"""Secondary indexes: their definitions as DynamoDB checks them, and what they hold.

A table's definition (``ddb_tables.definition``) lists its indexes in ``Indexes``, each with a
number (``IndexId``, never reused within a table; 0 is the time-to-live attribute) and a status
(``CREATING`` while existing items are indexed, then ``ACTIVE``). An item belongs to an index
when it has the index's key attributes (sparse indexes); its entry is the encoded index key
(``keys.encode_key_value``), stored beside the item's own key. A global index has its own
partition key; a local one shares the table's and sorts on another attribute.

What a Query on an index returns is the index's projection: the table and index keys
(``KEYS_ONLY``), plus the ``NonKeyAttributes`` (``INCLUDE``), or everything (``ALL``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lorafox.tables.errors import ValidationException
from lorafox.tables.keys import (
    MAX_HASH_KEY_BYTES,
    MAX_KEY_ATTRIBUTES,
    MAX_RANGE_KEY_BYTES,
    KeySchema,
)
from lorafox.tables.numbers import encode_number
from lorafox.tables.values import MAX_KEY_NAME, binary_bytes, value_type

__all__ = [
    "GLOBAL",
    "LOCAL",
    "MAX_GLOBAL_INDEXES",
    "MAX_LOCAL_INDEXES",
    "TTL_INDEX_ID",
    "Index",
    "check_key_name",
    "check_key_schema",
    "parse_index",
    "ttl_entry",
]

GLOBAL = "GLOBAL"
LOCAL = "LOCAL"
TTL_INDEX_ID = 0
"""The index of a table's time-to-live attribute: empty partition, expiry as the sort key."""
MAX_GLOBAL_INDEXES = 20
MAX_LOCAL_INDEXES = 5
MAX_PROJECTED_ATTRIBUTES = 100
_NAME = re.compile(r"[a-zA-Z0-9_.-]+")
_INVALID = "One or more parameter values were invalid: "
_PROJECTIONS = ("ALL", "KEYS_ONLY", "INCLUDE")


def _null(where: str) -> ValidationException:
    return ValidationException.constraints(
        [f"Value null at '{where}' failed to satisfy constraint: Member must not be null"]
    )


def check_key_name(name: str, where: str) -> None:
    """DynamoDB's error for a key (or projected) attribute name over ``MAX_KEY_NAME``."""
    if len(name) > MAX_KEY_NAME:
        raise ValidationException.constraints(
            [
                f"Value '{name}' at '{where}' failed to satisfy constraint: Member must have "
                f"length less than or equal to {MAX_KEY_NAME}"
            ]
        )


def check_key_schema(
    key_schema: object, where: str, *, multi: bool = False
) -> list[tuple[str, str]]:
    """[(attribute, HASH|RANGE)] of a KeySchema parameter, or DynamoDB's error.

    A table's and a local index's key is one HASH element and maybe one RANGE; a global
    index's (``multi``) may have up to ``MAX_KEY_ATTRIBUTES`` of each, HASH ones first."""
    if not isinstance(key_schema, list) or not key_schema:
        raise _null(where)
    most = 2 * MAX_KEY_ATTRIBUTES if multi else 2
    if len(key_schema) > most:
        raise ValidationException.constraints(
            [
                f"Value '{key_schema}' at '{where}' failed to satisfy constraint: Member "
                f"must have length less than or equal to {most}"
            ]
        )
    elements = [e if isinstance(e, Mapping) else {} for e in key_schema]
    kinds = [element.get("KeyType") for element in elements]
    if multi:
        _check_multi_kinds(kinds, where)
    elif kinds not in (["HASH"], ["HASH", "RANGE"]):
        raise ValidationException(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
            if kinds[0] != "HASH"
            else "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"
        )
    names = [element.get("AttributeName") for element in elements]
    for position, name in enumerate(names, 1):
        if not isinstance(name, str) or not name:
            raise _null(f"{where}.{position}.member.attributeName")
        check_key_name(name, f"{where}.{position}.member.attributeName")
    if len(set(names)) != len(names):
        raise ValidationException("Invalid KeySchema: Some index key attribute have no definition")
    return [(str(n), str(k)) for n, k in zip(names, kinds, strict=True)]


def _check_multi_kinds(kinds: Sequence[object], where: str) -> None:
    """A multi-attribute key: 1 to 4 HASH elements, then up to 4 RANGE ones."""
    for position, kind in enumerate(kinds, 1):
        if kind not in ("HASH", "RANGE"):
            raise ValidationException.constraints(
                [
                    f"Value '{kind}' at '{where}.{position}.member.keyType' failed to satisfy "
                    "constraint: Member must satisfy enum value set: [HASH, RANGE]"
                ]
            )
    if kinds[0] != "HASH":
        raise ValidationException(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
        )
    hashes = kinds.count("HASH")
    if any(kind == "HASH" for kind in kinds[hashes:]):
        raise ValidationException(
            "Invalid KeySchema: HASH KeySchemaElements must all come before the RANGE ones"
        )
    for kind, count in (("HASH", hashes), ("RANGE", len(kinds) - hashes)):
        if count > MAX_KEY_ATTRIBUTES:
            raise ValidationException(
                f"Invalid KeySchema: A KeySchema may have at most {MAX_KEY_ATTRIBUTES} "
                f"{kind} KeySchemaElements, not {count}"
            )


@dataclass(frozen=True, slots=True)
class Index:
    """One secondary index of a table."""

    name: str
    kind: str  # GLOBAL or LOCAL
    id: int
    schema: KeySchema
    table_schema: KeySchema
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    non_key: tuple[str, ...]
    status: str  # CREATING or ACTIVE
    throughput: Mapping[str, int] | None = None

    @classmethod
    def from_definition(
        cls, stored: Mapping[str, Any], table_schema: KeySchema, types: Mapping[str, str]
    ) -> Index:
        projection = stored["Projection"]
        return cls(
            name=stored["IndexName"],
            kind=stored["Kind"],
            id=int(stored["IndexId"]),
            schema=KeySchema.from_definition(stored["KeySchema"], types),
            table_schema=table_schema,
            projection=projection["ProjectionType"],
            non_key=tuple(projection.get("NonKeyAttributes") or ()),
            status=stored.get("IndexStatus", "ACTIVE"),
            throughput=stored.get("ProvisionedThroughput"),
        )

    @property
    def key_names(self) -> tuple[str, ...]:
        """The table's key attributes and the index's, each once."""
        return tuple(dict.fromkeys((*self.table_schema.names, *self.schema.names)))

    def check_item(self, item: Mapping[str, Mapping[str, Any]]) -> None:
        """DynamoDB's error for an item whose index key attribute has the wrong type, is
        empty or too long (an item lacking it is simply not in the index)."""
        for attribute in self.schema.attributes:
            value = item.get(attribute.name)
            if value is None or attribute.name in self.table_schema.names:
                continue
            actual = value_type(value)
            if actual != attribute.type:
                raise ValidationException(
                    _INVALID + f"Type mismatch for Index Key {attribute.name} Expected: "
                    f"{attribute.type} Actual: {actual} IndexName: {self.name}"
                )
            if actual == "N":
                continue
            raw = value[actual]
            size = len(raw.encode("utf-8")) if actual == "S" else len(binary_bytes(raw))
            if size == 0:
                kind = "string" if actual == "S" else "binary"
                raise ValidationException(
                    "One or more parameter values are not valid. A value specified for a "
                    "secondary index key is not supported. The AttributeValue for a key "
                    f"attribute cannot contain an empty {kind} value. IndexName: {self.name}, "
                    f"IndexKey: {attribute.name}"
                )
            limit = MAX_HASH_KEY_BYTES if attribute in self.schema.hashes else MAX_RANGE_KEY_BYTES
            if size > limit:
                raise ValidationException(
                    _INVALID + f"Size of index key {attribute.name} exceeds the limit of "
                    f"{limit} bytes for index {self.name}"
                )

    def fits(self, item: Mapping[str, Mapping[str, Any]]) -> bool:
        """Whether an item already stored may enter this index: an index added by UpdateTable
        leaves out the items whose key attributes have another type, are empty or too long."""
        try:
            self.check_item(item)
        except ValidationException:
            return False
        return True

    def entry(self, item: Mapping[str, Any]) -> tuple[int, bytes, bytes] | None:
        """This index's entry for a (checked) item, or None when the item is not in it."""
        if any(item.get(name) is None for name in self.schema.names):
            return None
        return self.id, self.schema.encode_pk(item), self.schema.encode_sk(item)

    def project(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The attributes of ``item`` that the index holds."""
        if self.projection == "ALL":
            return dict(item)
        wanted = (*self.key_names, *self.non_key)
        return {name: item[name] for name in wanted if name in item}

    def last_key(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """LastEvaluatedKey of a page ending on ``item``: the table's and the index's keys."""
        return {name: item[name] for name in self.key_names}

    def describe(self, count: int, size: int, table_arn: str) -> dict[str, Any]:
        description: dict[str, Any] = {
            "IndexName": self.name,
            "KeySchema": [
                *({"AttributeName": a.name, "KeyType": "HASH"} for a in self.schema.hashes),
                *({"AttributeName": a.name, "KeyType": "RANGE"} for a in self.schema.ranges),
            ],
            "Projection": (
                {"ProjectionType": self.projection, "NonKeyAttributes": list(self.non_key)}
                if self.projection == "INCLUDE"
                else {"ProjectionType": self.projection}
            ),
            "IndexSizeBytes": size,
            "ItemCount": count,
            "IndexArn": f"{table_arn}/index/{self.name}",
        }
        if self.kind == GLOBAL:
            description["IndexStatus"] = self.status
            if self.status == "CREATING":
                description["Backfilling"] = True
            description["ProvisionedThroughput"] = {
                "NumberOfDecreasesToday": 0,
                "ReadCapacityUnits": (self.throughput or {}).get("ReadCapacityUnits", 0),
                "WriteCapacityUnits": (self.throughput or {}).get("WriteCapacityUnits", 0),
            }
        return description


def ttl_entry(attribute: str, item: Mapping[str, Any]) -> tuple[int, bytes, bytes] | None:
    """The time-to-live index's entry: items whose attribute is a number (epoch seconds)."""
    value = item.get(attribute)
    if not isinstance(value, Mapping) or "N" not in value:
        return None
    return TTL_INDEX_ID, b"", encode_number(value["N"])


def _projection(raw: object, where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise _null(f"{where}.projection")
    kind = raw.get("ProjectionType")
    non_key = raw.get("NonKeyAttributes")
    if kind is None:
        # DynamoDB's default when only NonKeyAttributes are given is refused as well.
        raise ValidationException(_INVALID + "Unknown ProjectionType: null")
    if kind not in _PROJECTIONS:
        raise ValidationException.constraints(
            [
                f"Value '{kind}' at '{where}.projection.projectionType' failed to satisfy "
                "constraint: Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]"
            ]
        )
    if kind == "INCLUDE":
        if not non_key:
            raise ValidationException(
                _INVALID + "ProjectionType is INCLUDE, but NonKeyAttributes is not specified"
            )
        if not isinstance(non_key, list) or not all(isinstance(n, str) and n for n in non_key):
            raise _null(f"{where}.projection.nonKeyAttributes")
        for name in non_key:
            check_key_name(name, f"{where}.projection.nonKeyAttributes")
        if len(set(non_key)) != len(non_key):
            raise ValidationException(
                _INVALID + "Duplicate attributes in NonKeyAttributes of the Projection"
            )
        return {"ProjectionType": kind, "NonKeyAttributes": list(non_key)}
    if non_key:
        raise ValidationException(
            _INVALID + f"ProjectionType is {kind}, but NonKeyAttributes is specified"
        )
    return {"ProjectionType": kind}


def parse_index(
    raw: object,
    kind: str,
    position: int,
    *,
    table_keys: Sequence[tuple[str, str]],
    billing: str,
    index_id: int,
) -> dict[str, Any]:
    """One GlobalSecondaryIndexes/LocalSecondaryIndexes member checked, in stored form.

    ``position`` (1-based) places it in DynamoDB's constraint messages. Checks that need
    the AttributeDefinitions or the other indexes are the caller's."""
    where = (
        "globalSecondaryIndexes" if kind == GLOBAL else "localSecondaryIndexes"
    ) + f".{position}.member"
    if not isinstance(raw, Mapping):
        raise _null(where)
    name = raw.get("IndexName")
    if not isinstance(name, str):
        raise _null(f"{where}.indexName")
    if len(name) < 3 or len(name) > 255 or _NAME.fullmatch(name) is None:
        raise ValidationException.constraints(
            [
                f"Value '{name}' at '{where}.indexName' failed to satisfy constraint: Member "
                + (
                    "must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
                    if 3 <= len(name) <= 255
                    else "must have length greater than or equal to 3"
                    if len(name) < 3
                    else "must have length less than or equal to 255"
                )
            ]
        )
    keys = check_key_schema(raw.get("KeySchema"), f"{where}.keySchema", multi=kind == GLOBAL)
    projection = _projection(raw.get("Projection"), where)
    stored: dict[str, Any] = {
        "IndexName": name,
        "Kind": kind,
        "IndexId": index_id,
        "KeySchema": [{"AttributeName": n, "KeyType": k} for n, k in keys],
        "Projection": projection,
        "IndexStatus": "ACTIVE",
    }
    if kind == LOCAL:
        if len(table_keys) < 2:
            raise ValidationException(
                _INVALID + "Table KeySchema does not have a range key, which is required when "
                "specifying a LocalSecondaryIndex"
            )
        if len(keys) < 2:
            raise ValidationException(
                _INVALID + f"Index KeySchema does not have a range key for index: {name}"
            )
        if keys[0][0] != table_keys[0][0]:
            raise ValidationException(
                _INVALID + "Index KeySchema does not have the same leading hash key as table "
                f"KeySchema for index: {name}. index hash key: {keys[0][0]}, table hash key: "
                f"{table_keys[0][0]}"
            )
        return stored
    throughput = raw.get("ProvisionedThroughput")
    if billing == "PROVISIONED":
        if not isinstance(throughput, Mapping):
            raise ValidationException(
                _INVALID + f"ProvisionedThroughput must be specified for index: {name}"
            )
        stored["ProvisionedThroughput"] = {
            "ReadCapacityUnits": int(throughput.get("ReadCapacityUnits", 0)),
            "WriteCapacityUnits": int(throughput.get("WriteCapacityUnits", 0)),
        }
    elif throughput:
        raise ValidationException(
            _INVALID + f"ProvisionedThroughput should not be specified for index: {name} when "
            "BillingMode is PAY_PER_REQUEST"
        )
    return stored


def check_projected_total(indexes: Sequence[Mapping[str, Any]]) -> None:
    """DynamoDB's limit on NonKeyAttributes over all the indexes of a table."""
    total = sum(len(i["Projection"].get("NonKeyAttributes") or ()) for i in indexes)
    if total > MAX_PROJECTED_ATTRIBUTES:
        raise ValidationException(
            _INVALID + "The number of attributes in key schema and projections of all indexes "
            f"exceeds the limit of {MAX_PROJECTED_ATTRIBUTES}"
        )
