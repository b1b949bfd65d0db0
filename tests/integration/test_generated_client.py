"""A client generated from lorafox's own OpenAPI document drives the Sigfox API v2 resources.

Once per session: start lorafox, fetch ``/api/openapi.json``, generate a Python client with
``openapi-python-client`` (a generator from PyPI, run as its CLI) into a temporary directory and
import it. The generation must finish without a warning (every schema and response resolved).
Then groups, users, API users, device types, devices, their messages and downlinks go through
the generated functions — create, get, list with paging, update, delete — authenticated with
HTTP Basic as the document declares it, and every answer is parsed into the generated models:
a status the document does not list raises, and a field it does not declare is caught
(``additional_properties``).
"""

from __future__ import annotations

import base64
import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, SIGFOX_PASSWORD, SIGFOX_USER, Running
from tests.integration.helpers import serving

PACKAGE = "lorafox_api_client"
PAC = "0011223344556677"


@dataclass
class Generated:
    running: Running
    package: str

    def op(self, tag: str, name: str) -> ModuleType:
        """The generated module of one operation (``tag``/``name`` as FastAPI names them)."""
        return importlib.import_module(f"{self.package}.api.{tag}.{name}")

    def model(self, name: str) -> Any:
        return getattr(importlib.import_module(f"{self.package}.models"), name)

    def client(self, login: str, password: str) -> Any:
        token = base64.b64encode(f"{login}:{password}".encode()).decode()
        client_module = importlib.import_module(f"{self.package}.client")
        return client_module.AuthenticatedClient(
            base_url=self.running.base_url,
            token=token,
            prefix="Basic",
            raise_on_unexpected_status=True,
        )


def _generator() -> str:
    found = shutil.which("openapi-python-client") or str(
        Path(sys.executable).with_name("openapi-python-client")
    )
    if not Path(found).exists():
        pytest.fail("openapi-python-client is not installed (pip install -e '.[test]')")
    return found


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    with serving(tmp_path_factory.mktemp("generated-client")) as running:
        work = tmp_path_factory.mktemp("client")
        spec = work / "openapi.json"
        spec.write_bytes(httpx.get(f"{running.base_url}/api/openapi.json").content)
        config = work / "config.yaml"
        config.write_text("post_hooks: []\n")
        done = subprocess.run(
            [
                _generator(),
                "generate",
                "--path",
                str(spec),
                "--output-path",
                str(work / PACKAGE),
                "--meta",
                "none",
                "--config",
                str(config),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output
        assert "Warning" not in output and "Unable" not in output, output
        sys.path.insert(0, str(work))
        try:
            yield Generated(running, PACKAGE)
        finally:
            sys.path.remove(str(work))
            for name in [m for m in sys.modules if m.startswith(PACKAGE)]:
                del sys.modules[name]


def undeclared(value: Any, where: str = "") -> list[str]:
    """Fields of a parsed answer that the OpenAPI document does not declare."""
    found: list[str] = []
    if isinstance(value, list):
        for i, item in enumerate(value):
            found += undeclared(item, f"{where}[{i}]")
    elif hasattr(value, "additional_properties") and hasattr(value, "to_dict"):
        if type(value).__name__ != "MessageExtra":  # ``extra``: free-form by design
            found += [f"{where}.{k}" for k in value.additional_properties]
        for name in getattr(type(value), "__attrs_attrs__", ()):
            found += undeclared(getattr(value, name.name), f"{where}.{name.name}")
    return found


def call(g: Generated, client: Any, tag: str, name: str, status: int, **kwargs: Any) -> Any:
    """One operation through the generated module; the answer parsed, fully declared."""
    response = g.op(tag, name).sync_detailed(client=client, **kwargs)
    assert response.status_code == status, (name, response.status_code, response.content)
    assert not undeclared(response.parsed, name), undeclared(response.parsed, name)
    return response.parsed


@pytest.fixture(scope="session")
def admin(generated: Generated) -> Any:
    return generated.client("admin", ADMIN_PASSWORD)


@pytest.fixture(scope="session")
def group_id(generated: Generated, admin: Any) -> str:
    g = generated
    listed = call(g, admin, "groups", "list_groups_api_v2_groups_get", 200)
    [root] = [x for x in listed.data if not x.path]
    body = g.model("GroupCreate")(name="Generated", parent_id=root.id, timezone="Europe/Paris")
    made = call(g, admin, "groups", "create_group_api_v2_groups_post", 201, body=body)
    new_id: str = made.id
    return new_id


def test_groups(generated: Generated, admin: Any, group_id: str) -> None:
    g = generated
    subgroups = []
    for n in range(3):
        body = g.model("GroupCreate")(name=f"sub {n}", parent_id=group_id, type_=2)
        subgroups.append(
            call(g, admin, "groups", "create_group_api_v2_groups_post", 201, body=body)
        )
    page = call(
        g, admin, "groups", "list_groups_api_v2_groups_get", 200, parent_ids=[group_id], limit=2
    )
    assert [x.id for x in page.data] == sorted(s.id for s in subgroups)[:2]
    next_offset = int(parse_qs(urlsplit(page.paging.next_).query)["offset"][0])
    rest = call(
        g,
        admin,
        "groups",
        "list_groups_api_v2_groups_get",
        200,
        parent_ids=[group_id],
        limit=2,
        offset=next_offset,
    )
    assert len(rest.data) == 1 and not rest.paging.next_

    one = subgroups[0].id
    update = g.model("GroupUpdate")(description="changed", timezone="Europe/Paris")
    call(
        g,
        admin,
        "groups",
        "update_group_api_v2_groups_group_id_put",
        204,
        group_id=one,
        body=update,
    )
    got = call(g, admin, "groups", "get_group_api_v2_groups_group_id_get", 200, group_id=one)
    assert got.description == "changed" and got.path[0].id == group_id and got.name_ci == "sub 0"
    call(g, admin, "groups", "delete_group_api_v2_groups_group_id_delete", 204, group_id=one)
    gone = call(g, admin, "groups", "get_group_api_v2_groups_group_id_get", 404, group_id=one)
    assert gone.message
    bad = call(g, admin, "groups", "list_groups_api_v2_groups_get", 400, fields="nope")
    assert bad.errors[0].field == "fields"


def test_users(generated: Generated, admin: Any, group_id: str) -> None:
    g = generated
    role = g.model("UserRoleIn")(group_id=group_id, profile_id="VIEWER")
    ids = []
    for n in range(3):
        body = g.model("UserCreate")(
            email=f"gen{n}@example.com", first_name="Gen", last_name=str(n), user_roles=[role]
        )
        made = call(g, admin, "users", "create_user_api_v2_users_post", 201, body=body)
        assert made.password  # generated, shown once
        ids.append(made.id)
    listed = call(
        g, admin, "users", "list_users_api_v2_users_get", 200, group_ids=[group_id], limit=2
    )
    assert len(listed.data) == 2 and listed.paging.next_
    rest = call(
        g,
        admin,
        "users",
        "list_users_api_v2_users_get",
        200,
        group_ids=[group_id],
        limit=2,
        offset=2,
    )
    assert {u.id for u in listed.data + rest.data} == set(ids)

    update = g.model("UserUpdate")(first_name="Changed")
    call(
        g, admin, "users", "update_user_api_v2_users_user_id_put", 204, user_id=ids[0], body=update
    )
    got = call(
        g,
        admin,
        "users",
        "get_user_api_v2_users_user_id_get",
        200,
        user_id=ids[0],
        fields="userRoles(profile(roles))",
    )
    assert got.first_name == "Changed" and got.user_roles[0].group.id == group_id
    assert got.user_roles[0].profile.roles
    call(g, admin, "users", "delete_user_api_v2_users_user_id_delete", 204, user_id=ids[0])
    call(g, admin, "users", "get_user_api_v2_users_user_id_get", 404, user_id=ids[0])


def test_api_users(generated: Generated, admin: Any, group_id: str) -> None:
    g = generated
    body = g.model("ApiUserCreate")(group_id=group_id, name="gen", profile_ids=["DEVICE_MANAGER"])
    made = call(g, admin, "api_users", "create_api_user_api_v2_api_users_post", 201, body=body)
    script = g.client(made.id, made.access_token)  # HTTP Basic with the new credentials
    profiles = call(g, script, "profiles", "list_profiles_api_v2_profiles_get", 200, limit=2)
    assert len(profiles.data) == 2 and profiles.paging.next_

    listed = call(
        g, admin, "api_users", "list_api_users_api_v2_api_users_get", 200, group_ids=[group_id]
    )
    assert [a.id for a in listed.data] == [made.id]
    update = g.model("ApiUserUpdate")(name="renamed")
    call(
        g,
        admin,
        "api_users",
        "update_api_user_api_v2_api_users_api_user_id_put",
        204,
        api_user_id=made.id,
        body=update,
    )
    got = call(
        g,
        script,
        "api_users",
        "get_api_user_api_v2_api_users_api_user_id_get",
        200,
        api_user_id=made.id,
    )
    assert got.name == "renamed" and got.group.id == group_id
    renewed = call(
        g,
        admin,
        "api_users",
        "renew_credential_api_v2_api_users_api_user_id_renew_credential_put",
        200,
        api_user_id=made.id,
    )
    assert renewed.access_token != made.access_token
    call(g, script, "profiles", "list_profiles_api_v2_profiles_get", 401)
    call(
        g,
        admin,
        "api_users",
        "delete_api_user_api_v2_api_users_api_user_id_delete",
        204,
        api_user_id=made.id,
    )
    call(
        g,
        admin,
        "api_users",
        "get_api_user_api_v2_api_users_api_user_id_get",
        404,
        api_user_id=made.id,
    )


def test_device_types_devices_and_messages(generated: Generated, admin: Any, group_id: str) -> None:
    g = generated
    types = []
    for n in range(2):
        body = g.model("DeviceTypeCreate")(name=f"gen type {n}", group_id=group_id, keep_alive=0)
        types.append(
            call(
                g,
                admin,
                "device_types",
                "create_device_type_api_v2_device_types_post",
                201,
                body=body,
            ).id
        )
    page = call(
        g,
        admin,
        "device_types",
        "list_device_types_api_v2_device_types_get",
        200,
        group_ids=[group_id],
        limit=1,
    )
    assert len(page.data) == 1 and page.paging.next_
    update = g.model("DeviceTypeUpdate")(description="meters", downlink_mode=2)
    call(
        g,
        admin,
        "device_types",
        "update_device_type_api_v2_device_types_device_type_id_put",
        204,
        device_type_id=types[1],
        body=update,
    )
    got = call(
        g,
        admin,
        "device_types",
        "get_device_type_api_v2_device_types_device_type_id_get",
        200,
        device_type_id=types[1],
    )
    assert got.description == "meters" and got.downlink_mode == 2 and got.group.id == group_id

    devices = ["6E01", "6E02", "6E03"]
    for device in devices:
        body = g.model("DeviceCreate")(
            id=device, name=f"d{device}", device_type_id=types[0], pac=PAC, lat=45.0, lng=5.0
        )
        call(g, admin, "devices", "create_device_api_v2_devices_post", 201, body=body)
    listed = call(
        g,
        admin,
        "devices",
        "list_devices_api_v2_devices_get",
        200,
        device_type_id=types[0],
        limit=2,
        fields="deviceType(name)",
    )
    assert [d.id for d in listed.data] == devices[:2]
    assert listed.data[0].device_type.name == "gen type 0" and listed.paging.next_
    update = g.model("DeviceUpdate")(name="renamed", device_type_id=types[1])
    call(
        g,
        admin,
        "devices",
        "update_device_api_v2_devices_device_id_put",
        204,
        device_id=devices[2],
        body=update,
    )
    moved = call(
        g, admin, "devices", "get_device_api_v2_devices_device_id_get", 200, device_id=devices[2]
    )
    assert moved.name == "renamed" and moved.device_type.id == types[1]
    assert moved.location.lat == 45.0 and not moved.last_com  # absent: never heard

    sigfox = g.client(SIGFOX_USER, SIGFOX_PASSWORD)
    for seq in range(1, 4):
        uplink = httpx.post(
            f"{g.running.base_url}/sigfox/uplink",
            json={
                "device": devices[0],
                "time": 1_700_000_000 + seq,
                "seqNumber": seq,
                "data": "0A",
            },
            auth=(SIGFOX_USER, SIGFOX_PASSWORD),
        )
        assert uplink.status_code == 204 and sigfox
    first = call(
        g,
        admin,
        "devices",
        "list_messages_api_v2_devices_device_id_messages_get",
        200,
        device_id=devices[0],
        limit=2,
    )
    assert [m.seq_number for m in first.data] == [3, 2] and first.paging.next_
    before = int(parse_qs(urlsplit(first.paging.next_).query)["before"][0])
    older = call(
        g,
        admin,
        "devices",
        "list_messages_api_v2_devices_device_id_messages_get",
        200,
        device_id=devices[0],
        limit=2,
        before=before,
    )
    assert [m.seq_number for m in older.data] == [1] and not older.paging.next_
    by_type = call(
        g,
        admin,
        "device_types",
        "list_type_messages_api_v2_device_types_device_type_id_messages_get",
        200,
        device_type_id=types[0],
    )
    assert len(by_type.data) == 3 and by_type.data[0].device.id == devices[0]
    call(
        g,
        admin,
        "devices",
        "message_metric_api_v2_devices_device_id_messages_metric_get",
        200,
        device_id=devices[0],
    )
    located = call(
        g,
        admin,
        "devices",
        "list_locations_api_v2_devices_device_id_locations_get",
        200,
        device_id=devices[0],
    )
    assert located.data[0].lat == 45.0

    downlink = call(
        g,
        admin,
        "devices",
        "create_downlink_api_v2_devices_device_id_downlinks_post",
        201,
        device_id=devices[0],
        body=g.model("DownlinkCreate")(data="0102030405060708"),
    )
    queued = call(
        g,
        admin,
        "devices",
        "list_downlinks_api_v2_devices_device_id_downlinks_get",
        200,
        device_id=devices[0],
    )
    assert [d.id for d in queued.data] == [downlink.id]
    call(
        g,
        admin,
        "devices",
        "delete_downlink_api_v2_devices_device_id_downlinks_downlink_id_delete",
        204,
        device_id=devices[0],
        downlink_id=downlink.id,
    )

    for device in devices:
        call(
            g,
            admin,
            "devices",
            "delete_device_api_v2_devices_device_id_delete",
            204,
            device_id=device,
        )
    call(g, admin, "devices", "get_device_api_v2_devices_device_id_get", 404, device_id=devices[0])
    for device_type in types:
        call(
            g,
            admin,
            "device_types",
            "delete_device_type_api_v2_device_types_device_type_id_delete",
            204,
            device_type_id=device_type,
        )


def test_bulk_creation(generated: Generated, admin: Any, group_id: str) -> None:
    g = generated
    body = g.model("DeviceTypeCreate")(name="bulk type", group_id=group_id)
    device_type = call(
        g, admin, "device_types", "create_device_type_api_v2_device_types_post", 201, body=body
    ).id
    items = [g.model("BulkDevice")(id=f"7B0{n}", pac=PAC) for n in range(3)]
    started = call(
        g,
        admin,
        "devices",
        "create_bulk_api_v2_devices_bulk_post",
        201,
        body=g.model("BulkCreate")(device_type_id=device_type, prefix="b-", data=items),
    )
    assert started.total == 3
    status = call(
        g, admin, "devices", "get_bulk_api_v2_devices_bulk_job_id_get", 200, job_id=started.job_id
    )
    assert status.total == 3


def test_errors_are_parsed(generated: Generated, admin: Any) -> None:
    g = generated
    nobody = g.client("admin", "wrong")
    denied = call(g, nobody, "devices", "list_devices_api_v2_devices_get", 401)
    assert denied.message
    invalid = call(g, admin, "devices", "list_devices_api_v2_devices_get", 400, limit=0)
    assert invalid.errors[0].field == "limit"
