"""Invitations (sendWelcomeEmail) and password resets: mailed to a real SMTP server, their
links work once and then never again, and asking tells nothing of which addresses exist."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx

from tests.conftest import Running
from tests.integration.helpers import ADMIN
from tests.smtp_helpers import SmtpSink, body_of, smtp

__all__ = ["smtp"]

_LINK = re.compile(r"(http://\S+/password\?token=\S+)")


def _lorafox(factory: Callable[..., Running], sink: SmtpSink) -> tuple[Running, httpx.Client]:
    lorafox = factory(mail=sink.settings())
    return lorafox, httpx.Client(base_url=lorafox.base_url, timeout=10)


def _root(http: httpx.Client) -> str:
    groups = http.get("/api/v2/groups", auth=ADMIN).json()["data"]
    [root] = [g["id"] for g in groups if not g["path"]]
    return str(root)


def _user(http: httpx.Client, email: str, **extra: object) -> httpx.Response:
    spec = {
        "email": email,
        "firstName": "Jane",
        "lastName": "Doe",
        "userRoles": [{"groupId": _root(http), "profileId": "VIEWER"}],
        **extra,
    }
    return http.post("/api/v2/users", json=spec, auth=ADMIN)


def _logs_in(http: httpx.Client, email: str, password: str) -> bool:
    return http.get("/api/v2/groups", auth=(email, password)).status_code == 200


def test_an_invitation_link_sets_the_password_once(
    lorafox_factory: Callable[..., Running], smtp: SmtpSink
) -> None:
    lorafox, http = _lorafox(lorafox_factory, smtp)
    with http:
        answer = _user(http, "jane@example.com", sendWelcomeEmail=True)
        assert answer.status_code == 201, answer.text
        assert answer.json()["mailSent"] is True
        [mail] = smtp.wait(1)
        assert mail["To"] == "jane@example.com"
        assert mail["Subject"] == "Your lorafox account"
        [link] = _LINK.findall(body_of(mail))
        assert link.startswith(lorafox.base_url)
        page = http.get(link)
        assert page.status_code == 200 and "<form" in page.text
        token = link.split("token=", 1)[1]
        short = http.post("/password", data={"token": token, "password": "short"})
        assert short.status_code == 400 and "<form" not in short.text  # the link still works
        done = http.post("/password", data={"token": token, "password": "a-new-password-1"})
        assert done.status_code == 200 and "Password set" in done.text
        assert _logs_in(http, "jane@example.com", "a-new-password-1")
        again = http.post("/password", data={"token": token, "password": "another-password-2"})
        assert again.status_code == 400
        assert http.get(link).status_code == 400
        assert _logs_in(http, "jane@example.com", "a-new-password-1")
        assert not _logs_in(http, "jane@example.com", "another-password-2")


def test_a_reset_link_works_once_and_says_nothing_of_unknown_addresses(
    lorafox_factory: Callable[..., Running], smtp: SmtpSink
) -> None:
    _, http = _lorafox(lorafox_factory, smtp)
    with http:
        assert _user(http, "joe@example.com", password="the-old-password").status_code == 201
        known = http.post("/api/v2/password-resets", json={"email": "Joe@example.com"})
        unknown = http.post("/api/v2/password-resets", json={"email": "nobody@example.com"})
        assert known.status_code == unknown.status_code == 202
        assert known.json() == unknown.json()
        [mail] = smtp.wait(1)
        time.sleep(0.5)
        assert len(smtp.received) == 1 and mail["To"] == "joe@example.com"
        [link] = _LINK.findall(body_of(mail))
        token = link.split("token=", 1)[1]
        body = {"token": token, "newPassword": "the-new-password"}
        assert http.post("/api/v2/password-resets/password", json=body).status_code == 204
        assert _logs_in(http, "joe@example.com", "the-new-password")
        assert not _logs_in(http, "joe@example.com", "the-old-password")
        body = {"token": token, "newPassword": "yet-another-password"}
        reused = http.post("/api/v2/password-resets/password", json=body)
        assert reused.status_code == 400 and "does not work" in reused.text
        wrong = {"token": "x" * 43, "newPassword": "yet-another-password"}
        assert http.post("/api/v2/password-resets/password", json=wrong).status_code == 400
        assert http.get("/password", params={"token": "x" * 500}).status_code in (400, 422)
        # three resets of one address an hour at most
        for _ in range(4):
            http.post("/api/v2/password-resets", json={"email": "joe@example.com"})
        smtp.wait(3)
        time.sleep(0.5)
        assert len(smtp.received) == 1 + 2  # the first counted


def test_without_a_mail_server_the_answers_say_so(
    lorafox_factory: Callable[..., Running],
) -> None:
    lorafox = lorafox_factory()
    with httpx.Client(base_url=lorafox.base_url, timeout=10) as http:
        answer = _user(http, "kim@example.com", sendWelcomeEmail=True)
        assert answer.status_code == 201 and answer.json()["mailSent"] is False
        reset = http.post("/api/v2/password-resets", json={"email": "kim@example.com"})
        assert reset.status_code == 202 and reset.json()["mailSent"] is False
