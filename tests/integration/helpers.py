"""What the integration tests share: a lorafox serving for a block, logins, boto3 against it."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import httpx
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
PAC = "0011223344556677"

BOTO_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def table_keys(**attributes: str) -> dict[str, Any]:
    """The ``KeySchema`` and ``AttributeDefinitions`` of a table keyed by ``attributes`` (their
    types by name): the first is the hash key, the second (if any) the range key."""
    key_types = ("HASH", "RANGE")
    return {
        "KeySchema": [
            {"AttributeName": name, "KeyType": key_type}
            for name, key_type in zip(attributes, key_types, strict=False)
        ],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": value_type}
            for name, value_type in attributes.items()
        ],
    }


DEVICE_TIME_KEYS = table_keys(device="S", time="N")
"""The key of a table of device messages: the device's id (hash) and the time (range)."""


def new_table_name() -> str:
    return "t-" + uuid.uuid4().hex[:12]


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


def boto3_streams_client(server: Running, login: str, password: str) -> Any:
    """A boto3 ``dynamodbstreams`` client of ``server`` signing as the API user ``login``."""
    return boto3.client("dynamodbstreams", **_boto3_arguments(server, login, password, "eu-west-1"))


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


def created(http: httpx.Client, url: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """The answer to ``POST url`` with ``body``, which must be 201 Created."""
    answer = http.post(url, json=body, **kw)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def new_device_id() -> str:
    return secrets.token_hex(3).upper().lstrip("0") or "1"


def group_with_a_device(
    http: httpx.Client, parent_id: str, group_name: str, name: str, **kw: Any
) -> tuple[str, str, str]:
    """A new group under ``parent_id`` with a device type ``type <name>`` and a device
    ``device <name>`` of it: their ids."""
    group = created(http, "/api/v2/groups", {"name": group_name, "parentId": parent_id}, **kw)
    body = {"name": f"type {name}", "groupId": group["id"]}
    device_type = created(http, "/api/v2/device-types", body, **kw)
    device = new_device_id()
    body = {"id": device, "name": f"device {name}", "deviceTypeId": device_type["id"], "pac": PAC}
    created(http, "/api/v2/devices", body, **kw)
    return group["id"], device_type["id"], device


def new_api_user(
    http: httpx.Client, group_id: str, name: str, *profiles: str, **kw: Any
) -> tuple[str, str]:
    """A new API user of ``group_id`` with ``profiles``: its (login, password)."""
    body = {"groupId": group_id, "name": name, "profileIds": list(profiles)}
    made = created(http, "/api/v2/api-users", body, **kw)
    return made["id"], made["accessToken"]


def basic_auth_operation(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """The operation ``method`` of ``path`` in the OpenAPI ``spec``, which must declare HTTP Basic
    authentication and its 401 answer."""
    operation: dict[str, Any] = spec["paths"][path][method]
    assert operation["security"] == [{"HTTPBasic": []}], path
    assert "401" in operation["responses"], path
    return operation


def wait_for_the_purge(client: Any, table: str, remaining: int) -> None:
    """Wait (30 s at most) until the time-to-live purge leaves ``remaining`` items in ``table``."""
    deadline = time.monotonic() + 30
    while client.scan(TableName=table, Select="COUNT")["Count"] > remaining:
        assert time.monotonic() < deadline, "expired items were not deleted"
        time.sleep(0.1)
