"""Tags, continuous backups and endpoints through boto3 over a real socket."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.conftest import Running
from tests.integration.helpers import error_code, error_message, new_table_name, table_keys


def _table(client: Any, **params: Any) -> tuple[str, str]:
    name = new_table_name()
    made = client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST", **table_keys(k="S"), **params
    )
    return name, made["TableDescription"]["TableArn"]


def _tags(client: Any, arn: str) -> list[dict[str, str]]:
    return list(client.list_tags_of_resource(ResourceArn=arn)["Tags"])


def test_tags_on_create_tag_untag_and_list(client: Any) -> None:
    _, arn = _table(client, Tags=[{"Key": "site", "Value": "north"}])
    assert _tags(client, arn) == [{"Key": "site", "Value": "north"}]
    client.tag_resource(
        ResourceArn=arn,
        Tags=[{"Key": "site", "Value": "south"}, {"Key": "owner", "Value": ""}],
    )
    assert _tags(client, arn) == [
        {"Key": "site", "Value": "south"},
        {"Key": "owner", "Value": ""},
    ]
    client.untag_resource(ResourceArn=arn, TagKeys=["site", "never-set"])
    assert _tags(client, arn) == [{"Key": "owner", "Value": ""}]
    client.untag_resource(ResourceArn=arn, TagKeys=["owner"])
    assert _tags(client, arn) == []


def _refused(call: Any, code: str = "ValidationException", **params: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**params)
    assert error_code(info) == code
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error_message(info)


def test_at_most_50_tags(client: Any) -> None:
    _, arn = _table(client, Tags=[{"Key": f"k{n}", "Value": "v"} for n in range(50)])
    assert len(_tags(client, arn)) == 50
    client.tag_resource(ResourceArn=arn, Tags=[{"Key": "k0", "Value": "again"}])
    message = _refused(client.tag_resource, ResourceArn=arn, Tags=[{"Key": "k50", "Value": "v"}])
    assert message == (
        "One or more parameter values were invalid: The number of tags exceeds the limit of 50 "
        "for this resource"
    )
    message = _refused(
        client.create_table,
        TableName=new_table_name(),
        BillingMode="PAY_PER_REQUEST",
        **table_keys(k="S"),
        Tags=[{"Key": f"k{n}", "Value": "v"} for n in range(51)],
    )
    assert message.endswith("The number of tags exceeds the limit of 50 for this resource")


def test_tag_key_and_value_lengths(client: Any) -> None:
    _, arn = _table(client)
    key = "k" * 129
    assert _refused(client.tag_resource, ResourceArn=arn, Tags=[{"Key": key, "Value": "v"}]) == (
        f"1 validation error detected: Value '{key}' at 'tags.1.member.key' failed to satisfy "
        "constraint: Member must have length less than or equal to 128"
    )
    value = "v" * 257
    message = _refused(client.tag_resource, ResourceArn=arn, Tags=[{"Key": "k", "Value": value}])
    assert message == (
        f"1 validation error detected: Value '{value}' at 'tags.1.member.value' failed to "
        "satisfy constraint: Member must have length less than or equal to 256"
    )
    client.tag_resource(ResourceArn=arn, Tags=[{"Key": "k" * 128, "Value": "v" * 256}])


def test_tags_of_an_unknown_table_or_arn(client: Any) -> None:
    arn = "arn:aws:dynamodb:eu-west-1:000000000000:table/no-such-table"
    assert _refused(client.list_tags_of_resource, "ResourceNotFoundException", ResourceArn=arn) == (
        f"Requested resource not found: ResourcArn: {arn} not found"
    )
    assert _refused(client.list_tags_of_resource, ResourceArn="not-an-arn") == (
        "Invalid TableArn: Invalid ResourceArn provided as input not-an-arn"
    )


def test_describe_continuous_backups(client: Any) -> None:
    name, _ = _table(client)
    described = client.describe_continuous_backups(TableName=name)
    assert described["ContinuousBackupsDescription"] == {
        "ContinuousBackupsStatus": "DISABLED",
        "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"},
    }
    message = _refused(
        client.describe_continuous_backups, "TableNotFoundException", TableName="no-such-table"
    )
    assert message == "Table not found: no-such-table"


def test_describe_endpoints_names_this_server(client: Any, server: Running) -> None:
    [endpoint] = client.describe_endpoints()["Endpoints"]
    assert endpoint == {
        "Address": server.base_url.split("//", 1)[1],
        "CachePeriodInMinutes": 1440,
    }
