"""The exceptions lorafox raises.

Every error the project raises on purpose derives from ``LorafoxError``. Each protocol maps the
tree in one module: HTTP status codes and the Sigfox JSON body in ``lorafox.api.errors``, MQTT
refusals on ``…/rejected`` in ``lorafox.downlink.queue``, the CLI's one-line messages in
``lorafox.cli``; the DynamoDB API's own errors (``lorafox.tables.errors.DynamoDBError``,
a ``LorafoxError`` carrying its ``__type`` and status) are answered by ``lorafox.api.dynamodb``,
the AWS IoT API answers the rules' errors in AWS's terms (``lorafox.api.iot``), and the
web console answers with HTML pages (``lorafox.console.errors``)::

    LorafoxError
    ├── ConfigError            bad settings, a port already in use (CLI: one line, exit 2)
    ├── InvalidInput           malformed request or message                        → 400
    │   ├── PayloadFormatError a device type's payload format does not compile
    │   ├── SqlParseError      a topic rule's statement does not parse (lorafox.rules.errors)
    │   ├── RuleInvalid        a topic rule's name or action is wrong (lorafox.rules.errors)
    │   └── PayloadTooLarge    a request body over its limit                       → 413
    ├── AuthenticationFailed   missing or wrong credentials                        → 401
    │   ├── LoginThrottled     too many wrong passwords: retry later               → 429
    │   └── SessionRequired    a console page without a session (→ the login page)
    ├── Forbidden              authenticated but not allowed, or outside the allow-list → 403
    │   └── CsrfRefused        a console form without its session's CSRF token
    ├── NotFound               no such object (RuleNotFound: lorafox.rules.service) → 404
    ├── Conflict               the object exists, or its state forbids the change  → 409
    │                          (RuleExists: lorafox.rules.service)
    ├── StoreError             the database failed                                 → 503
    ├── PayloadDecodeError     a payload does not fit its format (the message is kept)
    ├── ActionFailed           a topic rule's action failed for one message (lorafox.rules.errors)
    ├── BusError               the MQTT broker failed
    │   └── BusUnavailable     not connected to the broker right now
    ├── DeliveryRefused        a LoRa network server refused a downlink (it fails)
    └── NotificationError      a mail server or a notification service failed     → 502
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "BusError",
    "BusUnavailable",
    "ConfigError",
    "Conflict",
    "CsrfRefused",
    "DeliveryRefused",
    "Forbidden",
    "InvalidInput",
    "LoginThrottled",
    "LorafoxError",
    "NotFound",
    "NotificationError",
    "PayloadDecodeError",
    "PayloadFormatError",
    "PayloadTooLarge",
    "SessionRequired",
    "StoreError",
]


class LorafoxError(Exception):
    """Root of every error lorafox raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(LorafoxError):
    """The settings cannot work: a bad value, a port already in use, a missing file."""


class InvalidInput(LorafoxError):
    """A request or message is malformed; ``field`` names the culprit when one is known."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PayloadTooLarge(InvalidInput):
    """A request body larger than the endpoint takes (answered before any more is read)."""


class AuthenticationFailed(LorafoxError):
    """Credentials are missing or wrong."""


class LoginThrottled(AuthenticationFailed):
    """Too many wrong passwords from this address or for this login; ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Forbidden(LorafoxError):
    """The caller is known but not allowed to do this (or calls from outside the allow-list)."""


class SessionRequired(AuthenticationFailed):
    """A console page asked for without a session, or with one that ended."""


class CsrfRefused(Forbidden):
    """A console request that changes something came without its session's CSRF token."""


class NotFound(LorafoxError):
    """The object asked for does not exist (or is not visible to the caller)."""


class Conflict(LorafoxError):
    """The object already exists, or its current state forbids the change."""


class StoreError(LorafoxError):
    """The database failed."""


class BusError(LorafoxError):
    """The MQTT broker failed."""


class BusUnavailable(BusError):
    """Not connected to the MQTT broker right now; the message was not handed over."""


class DeliveryRefused(LorafoxError):
    """A LoRa network server answered a downlink with a refusal (``status``: its HTTP status)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PayloadFormatError(InvalidInput):
    """A custom payload format (``payloadConfig``) does not compile. ``position`` is the 1-based
    character of the text where the fault is, ``field_name`` the format's field at fault."""

    def __init__(
        self, message: str, *, position: int | None = None, field_name: str | None = None
    ) -> None:
        super().__init__(message, field="payloadConfig")
        self.position = position
        self.field_name = field_name


class PayloadDecodeError(LorafoxError):
    """A message's payload cannot be decoded with its device type's format (too short, not
    hex). Not an ``InvalidInput``: the message itself is good and is kept with this text."""

    def __init__(self, message: str, *, field_name: str | None = None) -> None:
        super().__init__(message)
        self.field_name = field_name


class NotificationError(LorafoxError):
    """A mail server or notification service failed (``permanent``: retrying will not help).
    Answered 502 when a request waited for it (an alert's test)."""

    status = 502

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
