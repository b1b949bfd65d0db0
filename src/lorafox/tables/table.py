"""A table as the operations see it: its stored row, key schema, indexes and indexer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lorafox.ports.tables import IndexEntry, Indexer, StoredTable
from lorafox.tables.errors import ValidationException
from lorafox.tables.indexes import Index, ttl_entry
from lorafox.tables.keys import KeySchema
from lorafox.tables.values import Item, validate_item

__all__ = ["OpenTable", "encode_key", "schema_of"]


def schema_of(definition: Mapping[str, Any]) -> KeySchema:
    """The table's primary key from its stored definition."""
    types = {a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]}
    return KeySchema.from_definition(definition["KeySchema"], types)


def encode_key(schema: KeySchema, item: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """(pk, sk) bytes of an item's (checked) key attributes."""
    return schema.encode_pk(item), schema.encode_sk(item)


class OpenTable:
    """A table's row with what the operations derive from it."""

    __slots__ = ("indexer", "indexes", "schema", "stored")

    def __init__(self, stored: StoredTable) -> None:
        self.stored = stored
        definition = stored.definition
        self.schema = schema_of(definition)
        types = {a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]}
        self.indexes: dict[str, Index] = {
            raw["IndexName"]: Index.from_definition(raw, self.schema, types)
            for raw in definition.get("Indexes", ())
        }
        self.indexer: Indexer | None = (
            self._entries if self.indexes or stored.ttl_attribute is not None else None
        )

    @property
    def id(self) -> int:
        return self.stored.id

    def _entries(self, item: Mapping[str, Any]) -> list[IndexEntry]:
        found = [entry for index in self.indexes.values() if (entry := index.entry(item))]
        if self.stored.ttl_attribute is not None:
            entry = ttl_entry(self.stored.ttl_attribute, item)
            if entry is not None:
                found.append(entry)
        return found

    def check_item(self, item: Mapping[str, Any]) -> None:
        """The primary key's and the indexes' checks of an item to store."""
        self.schema.check_item(item)
        self.check_index_keys(item)

    def check_index_keys(self, item: Mapping[str, Any]) -> None:
        for index in self.indexes.values():
            index.check_item(item)

    def key(self, raw: object) -> tuple[Item, bytes, bytes]:
        """A ``Key`` parameter checked against the schema, with its encoding."""
        key = validate_item(raw)
        self.schema.check_key(key)
        pk, sk = encode_key(self.schema, key)
        return key, pk, sk

    def index(self, name: object) -> Index:
        """The index a Query or Scan names, or DynamoDB's error."""
        index = self.indexes.get(name) if isinstance(name, str) else None
        if index is None:
            raise ValidationException(f"The table does not have the specified index: {name}")
        if index.status != "ACTIVE":
            raise ValidationException(
                f"Cannot read from backfilling global secondary index: {index.name}"
            )
        return index
