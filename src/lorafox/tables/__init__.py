"""The DynamoDB data model, pure: values, keys, errors and the expression language.

No I/O here: the HTTP endpoint (``X-Amz-Target: DynamoDB_20120810.*``) and the SQL item store
call these functions. ``values`` checks and measures attribute values in their wire form,
``numbers`` handles DynamoDB's 38-digit decimals, ``keys`` the key schema, the sort order and the
order-preserving byte encoding of key values, ``errors`` DynamoDB's error types and messages,
``expressions`` the expression language and the legacy parameters.
"""

from __future__ import annotations

from lorafox.tables.errors import (
    ConditionalCheckFailedException,
    DynamoDBError,
    ResourceInUseException,
    ResourceNotFoundException,
    SerializationException,
    TransactionCanceledException,
    ValidationException,
)
from lorafox.tables.keys import (
    KeyAttribute,
    KeySchema,
    compare_key_values,
    decode_key_value,
    encode_key_value,
    prefix_successor,
)
from lorafox.tables.values import (
    MAX_ITEM_SIZE,
    AttributeValue,
    Item,
    check_item_size,
    item_size,
    validate_item,
    validate_value,
    values_equal,
)

__all__ = [
    "MAX_ITEM_SIZE",
    "AttributeValue",
    "ConditionalCheckFailedException",
    "DynamoDBError",
    "Item",
    "KeyAttribute",
    "KeySchema",
    "ResourceInUseException",
    "ResourceNotFoundException",
    "SerializationException",
    "TransactionCanceledException",
    "ValidationException",
    "check_item_size",
    "compare_key_values",
    "decode_key_value",
    "encode_key_value",
    "item_size",
    "prefix_successor",
    "validate_item",
    "validate_value",
    "values_equal",
]
