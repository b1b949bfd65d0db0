"""Schemathesis over lorafox's own OpenAPI document, against a live lorafox on its real socket.

Every operation of ``/api/openapi.json`` is called with generated inputs, authenticated as the
admin (the ``/sigfox/*`` callbacks with the callback credentials, their ``sigfoxBasic`` scheme),
and every answer must be: not a 5xx, a documented status code, a documented content type, and a
body that matches the documented schema.

Generated ids almost never name an existing object, so about half the cases have their path ids
(and the ``groupId``/``deviceTypeId``/``device`` of their bodies) replaced by those of objects
seeded in a group of their own: the 200/201/204/409 answers get checked too, not only the 404s.
Nothing is excluded: the admin's own id is never seeded, so no case can delete the admin, remove
its roles or change its password (the only operations that would stop the run). Seeded objects
may be deleted or changed by a case; later cases then get 404s, which are checked as well.

Each operation gets valid inputs (positive) and invalid ones (negative: wrong types, out of range,
missing fields — whose 400s must be documented too). Bounded for speed and reproducibility: few
examples per operation and mode, no deadline, derandomized.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Running
from tests.integration.helpers import ADMIN, SIGFOX, serving

MAX_EXAMPLES = 12

MODE = GenerationMode.POSITIVE
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BODY_SEEDS = {"groupId": "group_id", "deviceTypeId": "device_type_id", "device": "device_id"}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serving(tmp_path_factory.mktemp("fuzz")) as lorafox:
        yield lorafox


def _seed(base_url: str) -> dict[str, str]:
    """A group with a device type, a device with uplinks and a downlink, a user, an API user."""
    with httpx.Client(base_url=base_url, auth=ADMIN, timeout=10) as http:

        def ok(method: str, url: str, **kw: Any) -> Any:
            r = http.request(method, url, **kw)
            assert r.status_code in (200, 201, 204), (method, url, r.status_code, r.text)
            return r.json() if r.content else None

        [root] = [g for g in ok("GET", "/api/v2/groups")["data"] if not g["path"]]
        group = ok("POST", "/api/v2/groups", json={"name": "fuzz", "parentId": root["id"]})["id"]
        device_type = ok("POST", "/api/v2/device-types", json={"name": "fuzz", "groupId": group})[
            "id"
        ]
        device = "F0221"
        body = {"id": device, "name": "d", "deviceTypeId": device_type, "pac": "0011223344556677"}
        ok("POST", "/api/v2/devices", json=body)
        for seq in (1, 2, 3):
            uplink = {"device": device, "time": 1_700_000_000 + seq, "seqNumber": seq, "data": "01"}
            ok("POST", "/sigfox/uplink", json=uplink, auth=SIGFOX)
        downlink = ok(
            "POST", f"/api/v2/devices/{device}/downlinks", json={"data": "0102030405060708"}
        )["id"]
        user = ok(
            "POST",
            "/api/v2/users",
            json={
                "email": "fuzz@example.com",
                "firstName": "F",
                "lastName": "Z",
                "password": "fuzz-secret-pw",
                "userRoles": [{"groupId": group, "profileId": "VIEWER"}],
            },
        )["id"]
        api_user = ok(
            "POST",
            "/api/v2/api-users",
            json={"groupId": group, "name": "fuzz", "profileIds": ["VIEWER"]},
        )["id"]
        job = ok(
            "POST",
            "/api/v2/devices/bulk",
            json={"deviceTypeId": device_type, "data": [{"id": "F0222", "pac": "00", "name": "b"}]},
        )["jobId"]
    return {
        "group_id": group,
        "device_type_id": device_type,
        "device_id": device,
        "downlink_id": str(downlink),
        "user_id": user,
        "api_user_id": api_user,
        "profile_id": "VIEWER",
        "job_id": job,
    }


@pytest.fixture(scope="module")
def seeds(running: Running) -> dict[str, str]:
    return _seed(running.base_url)


@pytest.fixture(scope="module")
def api_schema(running: Running) -> Any:
    loaded = schemathesis.openapi.from_url(f"{running.base_url}/api/openapi.json")
    loaded.config.update(base_url=running.base_url)
    return loaded


def _use_seeds(case: Any, seeds: dict[str, str]) -> None:
    for name in list(case.path_parameters or {}):
        if name in seeds:
            case.path_parameters[name] = seeds[name]
    if isinstance(case.body, dict):
        for field, seed in BODY_SEEDS.items():
            if field in case.body:
                case.body[field] = seeds[seed]


def _fuzz(operation: Any, seeds: dict[str, str], mode: GenerationMode) -> None:
    """Run one operation's examples in ``mode``; raise on the first failure."""
    auth = SIGFOX if operation.path.startswith("/sigfox/") else ADMIN

    @given(case=operation.as_strategy(generation_mode=mode), seeded=st.booleans())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any, seeded: bool) -> None:
        if seeded:
            _use_seeds(case, seeds)
        case.call_and_validate(auth=auth, checks=CHECKS, timeout=10)

    check()


def test_every_operation(api_schema: Any, seeds: dict[str, str]) -> None:
    """Each operation in turn; all failures are reported together, one block per operation."""
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 40, [op.label for op in operations]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, seeds, mode)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to make invalid (GET /healthz)
            except Exception as exc:  # collected, reported below
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v2/groups?offset=20504164851054252032",
        "/api/v2/users?offset=36258651780603940864",
        "/api/v2/api-users?offset=9223372036854775807",
        "/api/v2/device-types?payloadType=2966665714011",
        "/api/v2/devices?offset=2147483648",
        "/api/v2/devices/F0221/messages?since=9223372036854775808",
    ],
)
def test_huge_integers_are_invalid_input(running: Running, url: str) -> None:
    """What schemathesis found first: integers beyond SQLite's 64 bits were a 500."""
    r = httpx.get(running.base_url + url, auth=ADMIN, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["field"] in {"offset", "payloadType", "since"}
