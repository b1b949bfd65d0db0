"""What the integration tests share: a lorafox serving for a block, logins, boto3 against it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.conftest import (
    ADMIN_PASSWORD,
    SIGFOX_PASSWORD,
    SIGFOX_USER,
    Running,
    make_settings,
    start_lorafox,
)

ADMIN = ("admin", ADMIN_PASSWORD)
SIGFOX = (SIGFOX_USER, SIGFOX_PASSWORD)

BOTO_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"})

DEVICE_TIME_KEYS: dict[str, Any] = {
    "KeySchema": [
        {"AttributeName": "device", "KeyType": "HASH"},
        {"AttributeName": "time", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "device", "AttributeType": "S"},
        {"AttributeName": "time", "AttributeType": "N"},
    ],
}
"""The key of a table of device messages: the device's id (hash) and the time (range)."""


@contextmanager
def serving(data_dir: Path, **overrides: Any) -> Iterator[Running]:
    """lorafox started on ``data_dir`` with settings ``overrides``, stopped when the block ends."""
    lorafox = start_lorafox(make_settings(data_dir, **overrides))
    try:
        yield lorafox
    finally:
        lorafox.stop()


def boto3_client(server: Running, login: str, password: str) -> Any:
    """A boto3 DynamoDB client of ``server`` signing as the API user ``login``."""
    return boto3.client("dynamodb", **_boto3_arguments(server, login, password, "eu-west-1"))


def boto3_resource(server: Running, login: str, password: str, region: str = "eu-west-1") -> Any:
    """A boto3 DynamoDB resource of ``server`` signing as the API user ``login``."""
    return boto3.resource("dynamodb", **_boto3_arguments(server, login, password, region))


def _boto3_arguments(server: Running, login: str, password: str, region: str) -> dict[str, Any]:
    return {
        "endpoint_url": server.base_url,
        "region_name": region,
        "aws_access_key_id": login,
        "aws_secret_access_key": password,
        "config": BOTO_CONFIG,
    }


def error_code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def error_message(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Message"])
