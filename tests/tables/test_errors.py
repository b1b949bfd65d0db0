"""DynamoDB's error types: ``__type``, status, body, and their place in lorafox's error tree."""

from __future__ import annotations

import pytest

from lorafox.api.errors import status_for
from lorafox.errors import InvalidInput, LorafoxError
from lorafox.tables import errors
from lorafox.tables.errors import (
    CancellationReason,
    ConditionalCheckFailedException,
    DynamoDBError,
    InternalServerError,
    ResourceInUseException,
    ResourceNotFoundException,
    TransactionCanceledException,
    ValidationException,
)

DDB = "com.amazonaws.dynamodb.v20120810#"


@pytest.mark.parametrize(
    "name", [n for n in errors.__all__ if n.endswith(("Exception", "Error", "Exceeded"))]
)
def test_every_error_is_a_dynamodb_error_with_a_type(name: str) -> None:
    kind = getattr(errors, name)
    assert issubclass(kind, DynamoDBError)
    assert issubclass(kind, LorafoxError)
    assert not issubclass(kind, InvalidInput)  # answered by the DynamoDB endpoint only
    exc = kind() if kind is not TransactionCanceledException else kind([])
    assert exc.type_name.endswith("#" + exc.code)
    body = exc.body()
    assert body["__type"] == exc.type_name
    assert body[exc.message_key] == exc.message


def test_the_http_mapping_takes_the_status_the_class_declares() -> None:
    assert status_for(ValidationException("x")) == 400
    assert status_for(ResourceNotFoundException()) == 400
    assert status_for(InternalServerError()) == 500
    assert InternalServerError.status == 500
    assert ValidationException.status == 400


def test_validation_exception() -> None:
    exc = ValidationException("bad")
    assert exc.body() == {
        "__type": "com.amazon.coral.validate#ValidationException",
        "message": "bad",
    }
    assert exc.code == "ValidationException"
    one = ValidationException.constraints(["Value null at 'item' failed to satisfy constraint: x"])
    assert (
        one.message
        == "1 validation error detected: Value null at 'item' failed to satisfy constraint: x"
    )
    two = ValidationException.constraints(["a", "b"])
    assert two.message == "2 validation errors detected: a; b"


def test_conditional_check_failed() -> None:
    exc = ConditionalCheckFailedException()
    assert exc.body() == {
        "__type": DDB + "ConditionalCheckFailedException",
        "message": "The conditional request failed",
    }
    with_item = ConditionalCheckFailedException(item={"pk": {"S": "a"}})
    assert with_item.body()["Item"] == {"pk": {"S": "a"}}


def test_transaction_canceled() -> None:
    exc = TransactionCanceledException(
        [
            CancellationReason(),
            CancellationReason(
                "ConditionalCheckFailed", "The conditional request failed", {"pk": {"S": "a"}}
            ),
        ]
    )
    assert exc.message == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed]"
    )
    assert exc.body() == {
        "__type": DDB + "TransactionCanceledException",
        "Message": exc.message,
        "CancellationReasons": [
            {"Code": "None"},
            {
                "Code": "ConditionalCheckFailed",
                "Message": "The conditional request failed",
                "Item": {"pk": {"S": "a"}},
            },
        ],
    }


def test_resource_errors() -> None:
    assert ResourceNotFoundException().message == "Requested resource not found"
    assert ResourceNotFoundException.table("t").message == (
        "Requested resource not found: Table: t not found"
    )
    assert ResourceInUseException.table_exists("t").message == "Table already exists: t"
    assert (
        ResourceInUseException.table_exists("t").body()["__type"] == DDB + "ResourceInUseException"
    )
