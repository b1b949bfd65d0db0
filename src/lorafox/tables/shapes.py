"""The JSON shape of a request's parameters, checked before any operation reads them: a
parameter of the wrong JSON type is DynamoDB's ``SerializationException``, a null or empty
member where DynamoDB needs one its ``ValidationException``; no malformed body reaches the
operations unchecked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lorafox.tables.errors import SerializationException, ValidationException

__all__ = ["check_shapes"]

# A shape: "str", "int", "bool", "any", "value" (an attribute value: a map of one type),
# ("map", shape) a map of any keys, ("list", shape), or a dict of known members (a structure).
Shape = Any

_VALUE = "value"
_ITEM = ("map", _VALUE)
_CONDITION = {"ComparisonOperator": "str", "AttributeValueList": ("list", _VALUE)}
_EXPECTED = {
    "Value": _VALUE,
    "Exists": "bool",
    "ComparisonOperator": "str",
    "AttributeValueList": ("list", _VALUE),
}
_EXPRESSIONS = {
    "ExpressionAttributeNames": ("map", "str"),
    "ExpressionAttributeValues": ("map", _VALUE),
    "ConditionExpression": "str",
    "ProjectionExpression": "str",
    "UpdateExpression": "str",
    "FilterExpression": "str",
    "KeyConditionExpression": "str",
}
_COMMON: dict[str, Shape] = {
    **_EXPRESSIONS,
    "TableName": "str",
    "IndexName": "str",
    "Item": _ITEM,
    "Key": _ITEM,
    "ExclusiveStartKey": _ITEM,
    "AttributesToGet": ("list", "str"),
    "KeyConditions": ("map", _CONDITION),
    "QueryFilter": ("map", _CONDITION),
    "ScanFilter": ("map", _CONDITION),
    "Expected": ("map", _EXPECTED),
    "AttributeUpdates": ("map", {"Value": _VALUE, "Action": "str"}),
    "ConditionalOperator": "str",
    "ReturnValues": "str",
    "ReturnValuesOnConditionCheckFailure": "str",
    "ReturnConsumedCapacity": "str",
    "ReturnItemCollectionMetrics": "str",
    "Select": "str",
    "Limit": "int",
    "Segment": "int",
    "TotalSegments": "int",
    "ConsistentRead": "bool",
    "ScanIndexForward": "bool",
    "ClientRequestToken": "str",
    "KeySchema": ("list", {"AttributeName": "str", "KeyType": "str"}),
    "AttributeDefinitions": ("list", {"AttributeName": "str", "AttributeType": "str"}),
    "Tags": ("list", {"Key": "str", "Value": "str"}),
    "TagKeys": ("list", "str"),
    "ResourceArn": "str",
    "TimeToLiveSpecification": {"Enabled": "bool", "AttributeName": "str"},
    "BillingMode": "str",
    "ExclusiveStartTableName": "str",
    "StreamSpecification": {"StreamEnabled": "bool", "StreamViewType": "str"},
    "StreamArn": "str",
    "ExclusiveStartStreamArn": "str",
    "ExclusiveStartShardId": "str",
    "ShardId": "str",
    "ShardIteratorType": "str",
    "SequenceNumber": "str",
    "ShardIterator": "str",
}
_WRITE_ACTION = dict(_COMMON)
_BATCH_WRITE = ("list", {"PutRequest": {"Item": _ITEM}, "DeleteRequest": {"Key": _ITEM}})
_BATCH_GET = {
    "Keys": ("list", _ITEM),
    "AttributesToGet": ("list", "str"),
    "ConsistentRead": "bool",
    **_EXPRESSIONS,
}
_TRANSACT_ITEM = {
    "ConditionCheck": _WRITE_ACTION,
    "Put": _WRITE_ACTION,
    "Delete": _WRITE_ACTION,
    "Update": _WRITE_ACTION,
    "Get": _WRITE_ACTION,
}
_BY_OPERATION: dict[str, dict[str, Shape]] = {
    "BatchWriteItem": {**_COMMON, "RequestItems": ("map", _BATCH_WRITE)},
    "BatchGetItem": {**_COMMON, "RequestItems": ("map", _BATCH_GET)},
    "TransactWriteItems": {**_COMMON, "TransactItems": ("list", _TRANSACT_ITEM)},
    "TransactGetItems": {**_COMMON, "TransactItems": ("list", _TRANSACT_ITEM)},
}

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
}


def check_shapes(operation: str, params: Mapping[str, Any]) -> None:
    """Refuse ``params`` of ``operation`` if a known member has the wrong JSON type, or a
    container holds a null or a non-structure where a structure belongs."""
    _check(params, _BY_OPERATION.get(operation, _COMMON), "")


def _where(path: str, name: str) -> str:
    member = name[0].lower() + name[1:] if name else name
    return f"{path}.{member}" if path else member


def _check(value: Any, shape: Shape, path: str) -> None:
    if value is None:
        return
    if isinstance(shape, str):
        if shape == "any":
            return
        if shape == _VALUE:
            _check_value(value, path)
            return
        wanted = _JSON_TYPES[shape]
        if not isinstance(value, wanted) or (shape == "int" and isinstance(value, bool)):
            raise _wrong_type(value, shape)
        return
    if isinstance(shape, tuple):
        kind, inner = shape
        if kind == "map":
            if not isinstance(value, Mapping):
                raise _wrong_type(value, "map")
            for key, member in value.items():
                if member is None:
                    raise _null(f"{path}.{key}.member" if path else f"{key}")
                _check(member, inner, f"{path}.{key}.member")
            return
        if not isinstance(value, list):
            raise _wrong_type(value, "list")
        for index, member in enumerate(value, 1):
            if member is None:
                raise _null(f"{path}.{index}.member")
            _check(member, inner, f"{path}.{index}.member")
        return
    if not isinstance(value, Mapping):
        raise _wrong_type(value, "structure")
    for name, member in value.items():
        if name in shape:
            _check(member, shape[name], _where(path, name))


def _check_value(value: Any, path: str) -> None:
    if not isinstance(value, Mapping):
        raise _wrong_type(value, "structure")
    for kind, member in value.items():
        if member is None:
            continue  # the attribute value's own checks name what is missing
        if kind in ("S", "N", "B"):
            if not isinstance(member, str):
                raise _wrong_type(member, "str")
        elif kind in ("SS", "NS", "BS"):
            if not isinstance(member, list) or not all(isinstance(m, str) for m in member):
                raise _wrong_type(member, "list")
        elif kind == "L":
            if not isinstance(member, list):
                raise _wrong_type(member, "list")
            for index, inner in enumerate(member, 1):
                if inner is None:
                    raise _null(f"{path}.l.{index}.member")
                _check_value(inner, path)
        elif kind == "M":
            if not isinstance(member, Mapping):
                raise _wrong_type(member, "map")
            for key, inner in member.items():
                if inner is None:
                    raise _null(f"{path}.m.{key}.member")
                _check_value(inner, path)
        elif kind in ("BOOL", "NULL") and not isinstance(member, bool):
            raise _wrong_type(member, "bool")


def _null(where: str) -> ValidationException:
    return ValidationException.constraints(
        [f"Value null at '{where}' failed to satisfy constraint: Member must not be null"]
    )


def _wrong_type(value: Any, wanted: str) -> SerializationException:
    if isinstance(value, Mapping):
        return SerializationException("Start of structure or map found where not expected.")
    if isinstance(value, list):
        return SerializationException("Start of list found where not expected")
    found = {str: "STRING_VALUE", bool: "BOOLEAN_VALUE"}.get(type(value), "NUMBER_VALUE")
    target = {"str": "String", "bool": "Boolean", "int": "Integer"}.get(wanted, "Structure")
    return SerializationException(f"{found} can not be converted to {target}")
