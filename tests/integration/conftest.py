"""Fixtures of the table API tests (``test_dynamodb*``): per module, a lorafox purging expired
items every 0.2 s, an ADMIN API user of its root group, and a boto3 client and resource signing
as it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Running, root_api_user
from tests.integration.helpers import boto3_client, boto3_resource, serving


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data_dir = tmp_path_factory.mktemp("tables") / "data"
    with serving(data_dir, tables={"ttl_purge_seconds": 0.2}) as lorafox:
        yield lorafox


@pytest.fixture(scope="module")
def credentials(server: Running) -> tuple[str, str]:
    return root_api_user(server.base_url, "tables")


@pytest.fixture(scope="module")
def client(server: Running, credentials: tuple[str, str]) -> Any:
    return boto3_client(server, *credentials)


@pytest.fixture(scope="module")
def resource(server: Running, credentials: tuple[str, str]) -> Any:
    return boto3_resource(server, *credentials)
