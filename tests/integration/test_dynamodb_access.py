"""Tables belong to a group and follow the profiles, over real HTTP with boto3:

    root ── A ── A1
         └─ B

VIEWER reads, DEVICE_MANAGER also writes items, ADMIN also manages tables; a table is invisible
outside its group's subtree (ResourceNotFoundException, as if it did not exist)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.conftest import Running, execute_sql, make_settings, start_lorafox
from tests.integration.helpers import (
    ADMIN,
    boto3_client,
    boto3_streams_client,
    created,
    new_api_user,
    serving,
    table_keys,
)


@dataclass
class World:
    server: Running
    groups: dict[str, str]
    clients: dict[str, Any]  # "A:VIEWER" -> boto3 client


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_lorafox(make_settings(tmp_path_factory.mktemp("ddb-access") / "data"))
    groups: dict[str, str] = {}
    clients: dict[str, Any] = {}
    with httpx.Client(base_url=server.base_url, auth=ADMIN) as http:
        [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
        groups["root"] = root["id"]
        for name, parent in (("A", "root"), ("B", "root"), ("A1", "A")):
            body = {"name": f"group {name}", "parentId": groups[parent]}
            groups[name] = created(http, "/api/v2/groups", body)["id"]
        for key in ("root:ADMIN", "A:ADMIN", "A:DEVICE_MANAGER", "A1:VIEWER", "B:ADMIN"):
            group, profile = key.split(":")
            clients[key] = boto3_client(server, *new_api_user(http, groups[group], key, profile))
    yield World(server, groups, clients)
    server.stop()


def _code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    code: str = caught.value.response["Error"]["Code"]
    return code


def _create(client: Any, name: str | None = None) -> str:
    name = name or f"t-{secrets.token_hex(4)}"
    client.create_table(TableName=name, **table_keys(k="S"), BillingMode="PAY_PER_REQUEST")
    return name


def test_profiles_decide_what_a_caller_may_do(world: World) -> None:
    table = _create(world.clients["A:ADMIN"])
    viewer = world.clients["A1:VIEWER"]  # a VIEWER of a sub-group does not see A's tables
    assert _code(viewer.describe_table, TableName=table) == "ResourceNotFoundException"
    manager = world.clients["A:DEVICE_MANAGER"]
    manager.put_item(TableName=table, Item={"k": {"S": "1"}, "v": {"N": "1"}})
    assert manager.get_item(TableName=table, Key={"k": {"S": "1"}})["Item"]["v"] == {"N": "1"}
    assert _code(manager.delete_table, TableName=table) == "AccessDeniedException"
    assert _code(
        manager.update_time_to_live,
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
    ) == ("AccessDeniedException")
    assert _code(manager.create_table, **_definition()) == "AccessDeniedException"
    # a root table is out of A1's sight as well
    root_table = _create(world.clients["root:ADMIN"])
    assert _code(viewer.get_item, TableName=root_table, Key={"k": {"S": "1"}}) == (
        "ResourceNotFoundException"
    )


def _definition() -> dict[str, Any]:
    return {
        "TableName": f"t-{secrets.token_hex(4)}",
        **table_keys(k="S"),
        "BillingMode": "PAY_PER_REQUEST",
    }


def test_a_viewer_reads_but_does_not_write(world: World) -> None:
    """A VIEWER of A reads A's tables and is refused every write."""
    admin_a = world.clients["A:ADMIN"]
    table = _create(admin_a)
    admin_a.put_item(TableName=table, Item={"k": {"S": "x"}})
    viewer = world.clients["A1:VIEWER"]
    # the VIEWER of A1 sits below A: A's tables are out of its sight; a VIEWER of A sees them
    assert _code(viewer.scan, TableName=table) == "ResourceNotFoundException"
    with httpx.Client(base_url=world.server.base_url, auth=ADMIN) as http:
        a_viewer = new_api_user(http, world.groups["A"], "A viewer", "VIEWER")
    reader = boto3_client(world.server, *a_viewer)
    assert reader.scan(TableName=table)["Count"] == 1
    assert reader.describe_table(TableName=table)["Table"]["TableName"] == table
    assert table in reader.list_tables()["TableNames"]
    for call, kwargs in (
        (reader.put_item, {"TableName": table, "Item": {"k": {"S": "y"}}}),
        (reader.delete_item, {"TableName": table, "Key": {"k": {"S": "x"}}}),
        (
            reader.batch_write_item,
            {"RequestItems": {table: [{"PutRequest": {"Item": {"k": {"S": "z"}}}}]}},
        ),
        (reader.create_table, _definition()),
        (reader.delete_table, {"TableName": table}),
    ):
        with pytest.raises(ClientError) as caught:
            call(**kwargs)
        error = caught.value.response["Error"]
        assert error["Code"] == "AccessDeniedException", (call, error)
        assert "is not authorized to perform: dynamodb:" in error["Message"]
    assert reader.scan(TableName=table)["Count"] == 1


def test_groups_do_not_see_each_others_tables(world: World) -> None:
    admin_a, admin_b, root = (world.clients[k] for k in ("A:ADMIN", "B:ADMIN", "root:ADMIN"))
    table_a = _create(admin_a)
    table_b = _create(admin_b)
    admin_a.put_item(TableName=table_a, Item={"k": {"S": "secret"}})
    assert table_a in admin_a.list_tables()["TableNames"]
    assert table_a not in admin_b.list_tables()["TableNames"]
    assert table_b not in admin_a.list_tables()["TableNames"]
    names = root.list_tables()["TableNames"]
    assert table_a in names and table_b in names  # the root sees every group's
    for call, kwargs in (
        (admin_b.describe_table, {"TableName": table_a}),
        (admin_b.get_item, {"TableName": table_a, "Key": {"k": {"S": "secret"}}}),
        (admin_b.put_item, {"TableName": table_a, "Item": {"k": {"S": "mine"}}}),
        (admin_b.scan, {"TableName": table_a}),
        (admin_b.delete_table, {"TableName": table_a}),
        (
            admin_b.batch_get_item,
            {"RequestItems": {table_a: {"Keys": [{"k": {"S": "secret"}}]}}},
        ),
        (
            admin_b.transact_write_items,
            {
                "TransactItems": [
                    {"Put": {"TableName": table_b, "Item": {"k": {"S": "ok"}}}},
                    {"Put": {"TableName": table_a, "Item": {"k": {"S": "not ok"}}}},
                ]
            },
        ),
    ):
        assert _code(call, **kwargs) == "ResourceNotFoundException", call
    # the transaction wrote nothing, not even to B's own table
    assert admin_b.scan(TableName=table_b)["Count"] == 0
    # names stay unique across groups: B cannot take A's name
    assert _code(admin_b.create_table, **{**_definition(), "TableName": table_a}) == (
        "ResourceInUseException"
    )
    assert root.scan(TableName=table_a)["Count"] == 1


def test_tags_and_streams_follow_the_profiles_and_groups(world: World) -> None:
    """Tags are managed by an ADMIN and read by anyone who sees the table; a stream is read by
    whoever reads its table and is out of other groups' sight."""
    admin_a, admin_b = world.clients["A:ADMIN"], world.clients["B:ADMIN"]
    manager = world.clients["A:DEVICE_MANAGER"]
    name = f"t-{secrets.token_hex(4)}"
    made = admin_a.create_table(
        TableName=name,
        **table_keys(k="S"),
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]
    arn, stream = made["TableArn"], made["LatestStreamArn"]
    admin_a.tag_resource(ResourceArn=arn, Tags=[{"Key": "site", "Value": "north"}])
    assert manager.list_tags_of_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "site", "Value": "north"}
    ]
    tags = [{"Key": "k", "Value": "v"}]
    assert _code(manager.tag_resource, ResourceArn=arn, Tags=tags) == "AccessDeniedException"
    assert _code(manager.untag_resource, ResourceArn=arn, TagKeys=["site"]) == (
        "AccessDeniedException"
    )
    assert _code(admin_b.list_tags_of_resource, ResourceArn=arn) == "ResourceNotFoundException"
    assert _code(admin_b.describe_continuous_backups, TableName=name) == "TableNotFoundException"
    server = world.server
    with httpx.Client(base_url=server.base_url, auth=ADMIN) as http:
        b_login = new_api_user(http, world.groups["B"], "B streams", "ADMIN")
        a_login = new_api_user(http, world.groups["A"], "A streams", "VIEWER")
    b_streams = boto3_streams_client(server, *b_login)
    a_streams = boto3_streams_client(server, *a_login)
    assert stream in [s["StreamArn"] for s in a_streams.list_streams()["Streams"]]
    assert stream not in [s["StreamArn"] for s in b_streams.list_streams()["Streams"]]
    assert _code(b_streams.describe_stream, StreamArn=stream) == "ResourceNotFoundException"
    assert a_streams.describe_stream(StreamArn=stream)["StreamDescription"]["TableName"] == name


def test_existing_tables_belong_to_the_root_after_the_upgrade(
    tmp_path: Path,
) -> None:
    """A database whose tables were made before tables had groups: they go to the root group,
    seen by the root's API users only."""
    data = tmp_path / "data"
    with serving(data) as server:
        with httpx.Client(base_url=server.base_url, auth=ADMIN) as http:
            [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
            root_admin = new_api_user(http, root["id"], "root admin", "ADMIN")
            sub = created(http, "/api/v2/groups", {"name": "sub group", "parentId": root["id"]})
            sub_admin = new_api_user(http, sub["id"], "sub admin", "ADMIN")
        admin = boto3_client(server, *root_admin)
        table = _create(admin)
    execute_sql(  # as version 0007 left it
        data,
        "UPDATE ddb_tables SET group_path = NULL",
        "UPDATE alembic_version SET version_num = '0007'",
        "DROP INDEX ix_ddb_tables_group_path",
        "ALTER TABLE ddb_tables DROP COLUMN group_path",
        "DROP TABLE ddb_stream_records",
        "DROP TABLE topic_rules",
        "DROP TABLE rule_http_outbox",
    )
    with serving(data) as server:
        admin = boto3_client(server, *root_admin)
        sub_client = boto3_client(server, *sub_admin)
        assert table in admin.list_tables()["TableNames"]
        assert table not in sub_client.list_tables()["TableNames"]
        assert _code(sub_client.describe_table, TableName=table) == "ResourceNotFoundException"
