"""The errors of the DynamoDB-compatible table API, as DynamoDB names and words them.

Each exception knows the ``__type`` DynamoDB puts in its JSON error body and the HTTP status it
answers with, so the endpoint renders ``exc.body()`` with ``exc.status`` and SDKs see the error
codes (and retry behaviour) they see on AWS. They are answered only by the DynamoDB endpoint
(``lorafox.api.dynamodb``), from ``status`` and ``body()``: the one mapping of this protocol.
All are HTTP 400 but ``InternalServerError`` (500)::

    LorafoxError                                  (lorafox.errors)
    └── DynamoDBError                             __type, status, body()
        ├── ValidationException                   bad parameters, DynamoDB's exact messages
        ├── SerializationException                JSON of the wrong shape (a number for a string)
        ├── ConditionalCheckFailedException       a ConditionExpression / Expected was false
        ├── TransactionCanceledException          carries CancellationReasons
        ├── TransactionConflictException
        ├── TransactionInProgressException
        ├── IdempotentParameterMismatchException
        ├── ResourceNotFoundException             no such table or index
        ├── TableNotFoundException                no such table (the backup operations)
        ├── ExpiredIteratorException              a stream's shard iterator is too old
        ├── ResourceInUseException                the table exists, or is being created/deleted
        ├── LimitExceededException
        ├── ItemCollectionSizeLimitExceededException
        ├── ProvisionedThroughputExceededException
        ├── RequestLimitExceeded
        ├── UnknownOperationException             X-Amz-Target names no operation
        ├── MissingAuthenticationTokenException   no signature
        ├── UnrecognizedClientException           unknown access key id
        ├── InvalidSignatureException             wrong signature
        ├── AccessDeniedException
        └── InternalServerError                   HTTP 500

The ``__type`` prefixes are the ones DynamoDB sends: validation errors come from the service
framework (``com.amazon.coral.validate#``), protocol and authentication errors from
``com.amazon.coral.service#``, everything else from ``com.amazonaws.dynamodb.v20120810#``.
botocore keeps the part after ``#`` as the error code, so either way SDKs see the short name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from lorafox.errors import LorafoxError

__all__ = [
    "CORAL_SERVICE",
    "CORAL_VALIDATE",
    "DYNAMODB",
    "AccessDeniedException",
    "CancellationReason",
    "ConditionalCheckFailedException",
    "DynamoDBError",
    "ExpiredIteratorException",
    "IdempotentParameterMismatchException",
    "InternalServerError",
    "InvalidSignatureException",
    "ItemCollectionSizeLimitExceededException",
    "LimitExceededException",
    "MissingAuthenticationTokenException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ResourceInUseException",
    "ResourceNotFoundException",
    "SerializationException",
    "TableNotFoundException",
    "TransactionCanceledException",
    "TransactionConflictException",
    "TransactionInProgressException",
    "UnknownOperationException",
    "UnrecognizedClientException",
    "ValidationException",
]

# The namespaces of the ``__type`` names (``namespace=`` of a DynamoDBError subclass).
DYNAMODB = "com.amazonaws.dynamodb.v20120810#"
CORAL_SERVICE = "com.amazon.coral.service#"
CORAL_VALIDATE = "com.amazon.coral.validate#"


class DynamoDBError(LorafoxError):
    """An error answered in DynamoDB's form: ``{"__type": …, "message": …}``."""

    type_name: ClassVar[str] = DYNAMODB + "DynamoDBError"
    status: ClassVar[int] = 400
    message_key: ClassVar[str] = "message"
    default_message: ClassVar[str] = ""

    def __init_subclass__(cls, namespace: str = DYNAMODB, **kwargs: Any) -> None:
        """A subclass's ``__type`` is its name, in ``namespace`` (what DynamoDB puts before
        ``#``)."""
        super().__init_subclass__(**kwargs)
        cls.type_name = namespace + cls.__name__

    def __init__(self, message: str | None = None) -> None:
        super().__init__(self.default_message if message is None else message)

    @property
    def code(self) -> str:
        """The short error code, as SDKs report it (``ValidationException``)."""
        return self.type_name.rsplit("#", 1)[-1]

    def body(self) -> dict[str, Any]:
        """The JSON error body DynamoDB sends."""
        return {"__type": self.type_name, self.message_key: self.message}


class ValidationException(DynamoDBError, namespace=CORAL_VALIDATE):
    """A parameter is invalid; the message is DynamoDB's own text."""

    @classmethod
    def constraints(cls, failures: Sequence[str]) -> ValidationException:
        """The "N validation errors detected: …" form DynamoDB uses for schema constraints."""
        count = len(failures)
        plural = "s" if count > 1 else ""
        return cls(f"{count} validation error{plural} detected: " + "; ".join(failures))


class SerializationException(DynamoDBError, namespace=CORAL_SERVICE):
    """The request JSON does not have the shape of the API (a number where a string goes)."""

    message_key = "Message"


class ConditionalCheckFailedException(DynamoDBError):
    """The condition of a write was false; ``item`` is the item as it was, when asked for."""

    default_message = "The conditional request failed"

    def __init__(
        self, message: str | None = None, *, item: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.item = item

    def body(self) -> dict[str, Any]:
        body = super().body()
        if self.item is not None:
            body["Item"] = dict(self.item)
        return body


class CancellationReason:
    """Why one action of a transaction was cancelled (``Code`` ``None`` when it was not)."""

    __slots__ = ("code", "item", "message")

    def __init__(
        self,
        code: str = "None",
        message: str | None = None,
        item: Mapping[str, Any] | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.item = item

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Code": self.code}
        if self.message is not None:
            out["Message"] = self.message
        if self.item is not None:
            out["Item"] = dict(self.item)
        return out


class TransactionCanceledException(DynamoDBError):
    """A transaction was cancelled; one reason per action, in the order of the request."""

    message_key = "Message"

    def __init__(self, reasons: Sequence[CancellationReason]) -> None:
        codes = ", ".join(reason.code for reason in reasons)
        super().__init__(
            "Transaction cancelled, please refer cancellation reasons for specific reasons "
            f"[{codes}]"
        )
        self.reasons = tuple(reasons)

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["CancellationReasons"] = [reason.to_json() for reason in self.reasons]
        return body


class TransactionConflictException(DynamoDBError):
    """Another transaction is changing the same item."""

    default_message = "Transaction is ongoing for the item"


class TransactionInProgressException(DynamoDBError):
    """A transaction with the same client token is still running."""

    default_message = "Transaction is in progress"


class IdempotentParameterMismatchException(DynamoDBError):
    """A client token was reused with different parameters."""

    default_message = "Request with the same client token was made with different parameters"


class ResourceNotFoundException(DynamoDBError):
    """No such table (or index)."""

    default_message = "Requested resource not found"

    @classmethod
    def table(cls, name: str) -> ResourceNotFoundException:
        """The form DescribeTable/DeleteTable use: ``…: Table: <name> not found``."""
        return cls(f"Requested resource not found: Table: {name} not found")


class TableNotFoundException(DynamoDBError):
    """No such table, in the words of the backup operations (DescribeContinuousBackups)."""

    @classmethod
    def table(cls, name: str) -> TableNotFoundException:
        return cls(f"Table not found: {name}")


class ExpiredIteratorException(DynamoDBError):
    """A shard iterator of DynamoDB Streams older than 15 minutes."""


class ResourceInUseException(DynamoDBError):
    """The table already exists, or its state forbids the operation."""

    default_message = "Resource in use"

    @classmethod
    def table_exists(cls, name: str) -> ResourceInUseException:
        return cls(f"Table already exists: {name}")


class LimitExceededException(DynamoDBError):
    """Too many tables, indexes or concurrent control-plane operations."""


class ItemCollectionSizeLimitExceededException(DynamoDBError):
    """An item collection of a table with local secondary indexes outgrew 10 GB."""

    default_message = "Item collection size limit exceeded"


class ProvisionedThroughputExceededException(DynamoDBError):
    """The request rate is above the provisioned throughput (SDKs retry it)."""

    default_message = (
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API"
    )


class RequestLimitExceeded(DynamoDBError):
    """Throughput exceeds the account limit (SDKs retry it)."""

    default_message = "Throughput exceeds the current throughput limit for your account."


class UnknownOperationException(DynamoDBError, namespace=CORAL_SERVICE):
    """``X-Amz-Target`` names no operation of the API."""


class MissingAuthenticationTokenException(DynamoDBError, namespace=CORAL_SERVICE):
    """The request is not signed."""

    default_message = "Request is missing Authentication Token"


class UnrecognizedClientException(DynamoDBError, namespace=CORAL_SERVICE):
    """The access key id is unknown."""

    default_message = "The security token included in the request is invalid."


class InvalidSignatureException(DynamoDBError, namespace=CORAL_SERVICE):
    """The signature does not match, or the request is too old."""

    default_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details."
    )


class AccessDeniedException(DynamoDBError, namespace=CORAL_SERVICE):
    """The caller is known but not allowed to do this."""


class InternalServerError(DynamoDBError):
    """The server failed (HTTP 500; SDKs retry it)."""

    status = 500
    default_message = "Internal server error"
