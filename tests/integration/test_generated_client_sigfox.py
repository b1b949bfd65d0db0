"""A client generated from Sigfox's own API v2 specification, pointed at lorafox.

``sigfox-api-client`` (PyPI) is swagger-codegen's Python client for Sigfox's API v2 swagger
(``api.sigfox.com/v2``, spec version 2.0). Only its base URL changes: ``<lorafox>/api/v2``. Its
generated paths (with Sigfox's trailing slashes), query parameters (camelCase, ``csv`` lists),
HTTP Basic auth and response models go against lorafox for groups, users, API users, device
types, devices and their messages.

Defects of the generated code itself are worked around as its users must against Sigfox too:
the request models built with ``allOf`` lost their inherited properties (``DeviceCreationJob``
has no ``id`` nor ``name``) or cannot be serialised at all (``DeviceTypeUpdate``,
``DeviceUpdateJob``, ``ApiUserEdition``), so those bodies are given as plain dicts, which the
client sends as they are; ``Group``'s discriminator calls ``.lower()`` on the integer ``type``,
and ``DeviceType``'s constructor ends by calling its base's, which resets the properties they
share (``description``, ``payloadType``…), so groups and device types are read with
``_preload_content=False`` and their JSON checked here.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, SIGFOX_PASSWORD, SIGFOX_USER, Running
from tests.integration.helpers import serving

sigfox_api_client: Any = importlib.import_module("sigfox_api_client")  # the ``test`` extra
ApiException: Any = importlib.import_module("sigfox_api_client.rest").ApiException
PAC = "0011223344556677"
MIN_GROUP = {"id", "name", "type", "level"}


def client(running: Running, login: str, password: str) -> Any:
    conf = sigfox_api_client.Configuration()
    conf.host = f"{running.base_url}/api/v2"
    conf.username = login
    conf.password = password
    return sigfox_api_client.ApiClient(conf)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serving(tmp_path_factory.mktemp("sigfox-client")) as lorafox:
        yield lorafox


@pytest.fixture(scope="module")
def admin(running: Running) -> Any:
    return client(running, "admin", ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def group(admin: Any) -> str:
    groups = sigfox_api_client.GroupsApi(admin)
    [root] = [g for g in groups.list_groups()["data"] if not g["path"]]
    body = sigfox_api_client.CommonGroupCreate(
        name="Sigfox client", description="", type=2, timezone="Europe/Paris", parent_id=root["id"]
    )
    made: str = groups.create_group(body)["id"]
    return made


def raw(call: Any, *args: Any, **kwargs: Any) -> Any:
    """The JSON of an answer the generated model cannot read."""
    response = call(*args, _preload_content=False, **kwargs)
    assert response.status == 200
    return json.loads(response.data)


def status_of(call: Any, *args: Any, **kwargs: Any) -> int:
    with pytest.raises(ApiException) as failed:
        call(*args, **kwargs)
    body = json.loads(failed.value.body)
    assert isinstance(body["message"], str) and isinstance(body["errors"], list)
    status: int = failed.value.status
    return status


def test_groups(admin: Any, group: str) -> None:
    groups = sigfox_api_client.GroupsApi(admin)
    made = []
    for n in range(3):
        body = sigfox_api_client.CommonGroupCreate(
            name=f"child {n}", description="d", type=8, timezone="UTC", parent_id=group
        )
        made.append(groups.create_group(body)["id"])
    page = groups.list_groups(parent_ids=[group], limit=2, sort="-name")
    assert [g["name"] for g in page["data"]] == ["child 2", "child 1"]
    offset = parse_qs(urlsplit(page["paging"]["next"]).query)["offset"]
    rest = groups.list_groups(parent_ids=[group], limit=2, offset=int(offset[0]), sort="-name")
    assert [g["name"] for g in rest["data"]] == ["child 0"] and "next" not in rest["paging"]
    assert groups.list_groups(parent_ids=[group], types=[8], name="CHILD 1")["data"][0]["id"]

    groups.update_group(sigfox_api_client.CommonGroupUpdate(description="changed"), made[0])
    got = raw(groups.get_group, made[0], fields="paths(name)")
    assert got["description"] == "changed" and got["nameCI"] == "child 0" and got["type"] == 8
    assert got["path"][0]["id"] == group and set(got["path"][0]) == MIN_GROUP
    with pytest.raises(AttributeError, match="lower"):  # the generated discriminator's defect
        groups.get_group(made[0])
    groups.delete_group(made[0])
    assert status_of(groups.get_group, made[0], _preload_content=False) == 404


def test_device_types_devices_and_messages(running: Running, admin: Any, group: str) -> None:
    types_api = sigfox_api_client.DeviceTypesApi(admin)
    devices_api = sigfox_api_client.DevicesApi(admin)
    type_ids = [
        types_api.create_device_type(
            {"name": f"meter {n}", "groupId": group, "contracts": [], "keepAlive": 0}
        )["id"]
        for n in range(2)
    ]
    listed = types_api.list_device_types(group_ids=[group], limit=1, sort="id")
    assert len(listed["data"]) == 1 and listed["paging"]["next"]
    types_api.update_device_type({"description": "water meters", "downlinkMode": 2}, type_ids[0])
    device_type = raw(types_api.get_device_type, type_ids[0], fields="group(name,type,level)")
    assert device_type["id"] == type_ids[0] and device_type["description"] == "water meters"
    assert device_type["downlinkMode"] == 2 and device_type["payloadType"] == 2
    assert device_type["automaticRenewal"] is True and device_type["keepAlive"] == 0
    assert device_type["group"] == {"id": group, "name": "Sigfox client", "type": 2, "level": 1}
    model = types_api.get_device_type(type_ids[0])  # the generated model keeps a few fields
    assert model.id == type_ids[0] and model.group.id == group

    ids = ["5F01", "5F02", "5F03"]
    for device in ids:
        body = {
            "id": device,
            "name": f"meter {device}",
            "deviceTypeId": type_ids[0],
            "pac": PAC,
            "prototype": False,
            "lat": 43.6,
            "lng": 1.44,
        }
        assert devices_api.create_device(body) == {"id": device}
    device = devices_api.get_device(ids[0], fields="deviceType(name),group(name,type)")
    assert device.pac == PAC and device.state == 0 and device.com_state == 5
    assert device.automatic_renewal is True and device.creation_time > 0
    assert device.device_type.id == type_ids[0] and device.device_type.name == "meter 0"
    assert device.group.id == group and device.location.lat == 43.6
    first = devices_api.list_devices(device_type_id=type_ids[0], limit=2)
    assert [d["id"] for d in first["data"]] == ids[:2] and first["paging"]["next"]
    rest = devices_api.list_devices(device_type_id=type_ids[0], limit=2, offset=2)
    assert [d["id"] for d in rest["data"]] == ids[2:]
    devices_api.update_device({"name": "renamed", "lat": 44.0}, ids[2])
    assert devices_api.get_device(ids[2]).device_type.name is None  # not asked for
    assert raw(devices_api.get_device, ids[2])["name"] == "renamed"

    for seq in (1, 2, 3):
        uplink = {"device": ids[0], "time": 1_700_000_000 + seq, "seqNumber": seq, "data": "0a0b"}
        r = httpx.post(
            f"{running.base_url}/sigfox/uplink", json=uplink, auth=(SIGFOX_USER, SIGFOX_PASSWORD)
        )
        assert r.status_code == 204
    messages = devices_api.get_device_messages_list_for_device(ids[0], limit=2)
    assert [(m["seqNumber"], m["time"], m["data"]) for m in messages["data"]] == [
        (3, 1_700_000_003_000, "0a0b"),
        (2, 1_700_000_002_000, "0a0b"),
    ]
    assert messages["data"][0]["device"]["id"] == ids[0]
    assert messages["data"][0]["ackRequired"] is False
    before = parse_qs(urlsplit(messages["paging"]["next"]).query)["before"]
    older = devices_api.get_device_messages_list_for_device(ids[0], before=int(before[0]))
    assert [m["seqNumber"] for m in older["data"]] == [1]
    since = devices_api.get_device_messages_list_for_device(ids[0], since=1_700_000_002_000)
    assert [m["seqNumber"] for m in since["data"]] == [3, 2]
    by_type = types_api.get_device_messages_list_for_device_type(type_ids[0], limit=100)
    assert len(by_type["data"]) == 3
    assert set(devices_api.devices_id_messages_metric_get(ids[0])) == {
        "lastDay",
        "lastWeek",
        "lastMonth",
    }
    assert devices_api.get_device_locations_list(ids[0])["data"][0]["lat"] == 43.6

    for device in ids:
        devices_api.delete_device(device)
    assert status_of(devices_api.get_device, ids[0]) == 404
    assert status_of(types_api.get_device_type, "0" * 24) == 404
    for type_id in type_ids:
        types_api.device_types_delete(type_id)


def test_bulk_creation(admin: Any, group: str) -> None:
    types_api = sigfox_api_client.DeviceTypesApi(admin)
    devices_api = sigfox_api_client.DevicesApi(admin)
    type_id = types_api.create_device_type({"name": "bulk", "groupId": group, "contracts": []})
    body = {
        "deviceTypeId": type_id["id"],
        "prefix": "b-",
        "data": [{"id": "6A01", "pac": PAC}, {"id": "ZZZ", "pac": PAC}],
    }
    job = devices_api.create_bulk_device(body)
    assert job["total"] == 2
    for _ in range(200):
        status = devices_api.get_bulk_job_for_device(job["jobId"])
        if status.job_done:
            break
    assert status.job_done and status.total == 2
    assert status.status["success"] == 1
    assert [e["entity"] for e in status.status["errors"]] == ["ZZZ"]


def test_users(admin: Any, group: str) -> None:
    users = sigfox_api_client.UsersApi(admin)
    made = []
    for n in range(3):
        body = {
            "email": f"sigfox{n}@example.com",
            "firstName": "Sig",
            "lastName": f"Fox {n}",
            "timezone": "Europe/Paris",
            "userRoles": [{"groupId": group, "profileId": "DEVICE_MANAGER"}],
        }
        made.append(users.create_user(body).id)
    page = users.list_users(group_ids=[group], limit=2, sort="email")
    assert [u["email"] for u in page["data"]] == ["sigfox0@example.com", "sigfox1@example.com"]
    rest = users.list_users(group_ids=[group], limit=2, offset=2, sort="email")
    assert [u["id"] for u in rest["data"]] == [made[2]]

    roles = [{"groupId": group, "profileId": "VIEWER"}]
    users.update_user({"firstName": "Changed", "userRoles": roles}, made[0])
    user = users.get_user(made[0], fields="userRoles(group(name),profile(name))")
    assert user.id == made[0] and user.email == "sigfox0@example.com" and user.locked is False
    [role] = user.user_roles
    assert role.group.id == group and role.group.name == "Sigfox client"
    assert (role.profile.id, role.profile.name) == ("VIEWER", "VIEWER [R]")
    assert users.list_users(text="Changed")["data"][0]["firstName"] == "Changed"
    users.delete_user(made[0])
    assert status_of(users.get_user, made[0]) == 404


def test_api_users(running: Running, admin: Any, group: str) -> None:
    api_users = sigfox_api_client.ApiUsersApi(admin)
    body = sigfox_api_client.ApiUserCreation(
        group_id=group, name="integration", timezone="Europe/Paris", profile_ids=["VIEWER"]
    )
    made = api_users.create_api_user(body)
    login = made["id"]
    api_user = api_users.get_api_user(login)
    assert api_user.id == login and api_user.group.id == group and api_user.creation_time > 0
    assert [p.id for p in api_user.profiles] == ["VIEWER"] and api_user.access_token is None

    # Sigfox's swagger names the profiles of an edition ``profileId``
    api_users.update_api_user({"profileId": ["DEVICE_MANAGER"]}, login)
    listed = api_users.list_api_users(group_ids=[group], fields="profiles(name)")
    assert [[p["id"] for p in a["profiles"]] for a in listed["data"]] == [["DEVICE_MANAGER"]]

    renewed = api_users.renew_credential(login)
    as_itself = sigfox_api_client.ApiUsersApi(client(running, login, renewed["accessToken"]))
    assert as_itself.get_api_user(login).id == login
    stale = sigfox_api_client.ApiUsersApi(client(running, login, made["accessToken"]))
    assert status_of(stale.get_api_user, login) == 401
    api_users.delete_api_user(login)
    assert status_of(api_users.get_api_user, login) == 404


def test_profiles_and_errors(admin: Any, group: str) -> None:
    profiles = sigfox_api_client.ProfilesApi(admin)
    listed = profiles.listprofiles(group, limit=2)
    assert [p["id"] for p in listed["data"]] == ["VIEWER", "DEVICE_MANAGER"]
    devices_api = sigfox_api_client.DevicesApi(admin)
    assert status_of(devices_api.list_devices, fields="token") == 400
    assert status_of(devices_api.list_devices, limit=1000) == 400
