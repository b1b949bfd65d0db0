"""The per-caller rate limit of ``/api/v2`` over real HTTP: 429 with ``Retry-After`` and the
Sigfox error shape, one bucket per caller, never on the callbacks or ``/healthz``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

import lorafox.service
from lorafox.api.app import create_app
from lorafox.api.rate_limit import RateLimiter
from lorafox.settings import Settings
from tests.conftest import ADMIN_PASSWORD, SIGFOX_PASSWORD, SIGFOX_USER, Running

ADMIN = ("admin", ADMIN_PASSWORD)
SIGFOX = (SIGFOX_USER, SIGFOX_PASSWORD)


def start(factory: Callable[..., Running], monkeypatch: pytest.MonkeyPatch, rate: float) -> Running:
    """lorafox with ``api_rate_limit = rate``, the value ``create_app`` is built with."""

    def app_with_limit(*args: Any, **kwargs: Any) -> Any:
        kwargs["api_rate_limit"] = rate
        return create_app(*args, **kwargs)

    monkeypatch.setattr(lorafox.service, "create_app", app_with_limit)
    return factory(api_rate_limit=rate)


def test_a_caller_over_its_limit_gets_429_and_others_do_not(
    lorafox_factory: Callable[..., Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    unlimited = start(lorafox_factory, monkeypatch, rate=0)
    with httpx.Client(base_url=unlimited.base_url, auth=ADMIN, timeout=10) as http:
        [root] = http.get("/api/v2/groups").json()["data"]
        made = http.post(
            "/api/v2/api-users",
            json={"groupId": root["id"], "name": "script", "profileIds": ["VIEWER"]},
        )
        assert made.status_code == 201
        script = (made.json()["id"], made.json()["accessToken"])
    unlimited.stop()

    running = start(lorafox_factory, monkeypatch, rate=0.01)  # a burst of 1, then 1 per 100 s
    with httpx.Client(base_url=running.base_url, timeout=10) as http:
        assert http.get("/api/v2/groups", auth=ADMIN).status_code == 200
        too_many = http.post("/api/v2/api-users", json={"name": ""}, auth=ADMIN)
        assert too_many.status_code == 429  # before the body is looked at
        assert too_many.headers["retry-after"] == "100"
        assert too_many.headers["content-type"] == "application/json"
        body = too_many.json()
        assert body["errors"] == [] and body["message"].startswith("Too many requests")
        assert http.get("/api/v2/devices/1/messages", auth=ADMIN).status_code == 429
        assert http.get("/api/v2/groups", auth=("admin", "wrong")).status_code == 401

        # another caller has its own bucket
        assert http.get("/api/v2/profiles", auth=script).status_code == 200
        assert http.get("/api/v2/profiles", auth=script).status_code == 429

        # never on the callbacks nor /healthz
        for seq in range(1, 6):
            uplink = {"device": "AB12", "time": 1_700_000_000 + seq, "seqNumber": seq, "data": "01"}
            assert http.post("/sigfox/uplink", json=uplink, auth=SIGFOX).status_code == 204
            assert http.get("/healthz").status_code == 200


def test_no_limit_when_set_to_zero(
    lorafox_factory: Callable[..., Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    running = start(lorafox_factory, monkeypatch, rate=0)
    with httpx.Client(base_url=running.base_url, auth=ADMIN, timeout=10) as http:
        assert {http.get("/api/v2/profiles").status_code for _ in range(30)} == {200}


def test_the_setting() -> None:
    assert Settings.load(None).api_rate_limit == 1000
    assert Settings.load(None, api_rate_limit=2.5).api_rate_limit == 2.5
    with pytest.raises(ValidationError):
        Settings.load(None, api_rate_limit=-1)


def test_buckets_refill_with_time() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])  # burst 4
    assert [limiter.take("a") for _ in range(4)] == [0.0] * 4
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") == 0.0
    now[0] = 0.25
    assert limiter.take("a") == pytest.approx(0.25)
    now[0] = 0.5
    assert limiter.take("a") == 0.0
    now[0] = 100.0
    assert [limiter.take("a") for _ in range(5)][-1] > 0  # never more than the burst
