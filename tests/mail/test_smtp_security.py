"""The mail server's security: STARTTLS with a login, TLS from the start, a certificate checked
against ``mail.ca_file``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from lorafox.domain import Mail, MailState
from lorafox.events.log import now_ms
from lorafox.mail import Mailer
from lorafox.settings import MailSettings
from lorafox.store.sql.store import SqlStore
from tests.conftest import free_port, store_url
from tests.smtp_helpers import SmtpSink, server_tls


def _authenticator(logins: list[tuple[str, str]]) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            logins.append((data.login.decode(), data.password.decode()))
            return AuthResult(success=data.password == b"smtp-pw")
        return AuthResult(success=False)

    return check


async def _send_one(tmp_path: Path, settings: MailSettings, sink: SmtpSink) -> MailState:
    store = await SqlStore.open(store_url(tmp_path))
    try:
        mailer = Mailer.create(store.mail, settings, now_ms)
        await mailer.send([Mail("ops@example.com", "secure", "b")])
        task = asyncio.create_task(mailer.run())
        deadline = time.monotonic() + 10
        while not sink.received and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        mailer.close()
        await task
        found = await store.mail.get_mail(1)
        assert found is not None
        return found.state
    finally:
        await store.close()


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_mail_goes_over_tls_with_a_login(tmp_path: Path, security: str) -> None:
    ca, context = server_tls(tmp_path)
    sink = SmtpSink(port=free_port())
    logins: list[tuple[str, str]] = []
    options: dict[str, Any] = (
        {"tls_context": context, "require_starttls": True}
        if security == "starttls"
        else {"ssl_context": context, "auth_require_tls": False}  # it is TLS from the start
    )
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=sink.port,
        server_hostname="localhost",
        authenticator=_authenticator(logins),
        **{"auth_require_tls": True, **options},
    )
    controller.start()
    try:
        settings = MailSettings(
            host="localhost",
            port=sink.port,
            security=security,  # type: ignore[arg-type]
            username="lorafox",
            password="smtp-pw",  # type: ignore[arg-type]
            ca_file=ca,
        )
        assert await _send_one(tmp_path, settings, sink) is MailState.SENT
    finally:
        controller.stop()
    assert logins == [("lorafox", "smtp-pw")]
    assert [m["Subject"] for m in sink.received] == ["secure"]


async def test_an_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    _, context = server_tls(tmp_path)
    sink = SmtpSink(port=free_port())
    controller = Controller(
        sink, hostname="127.0.0.1", port=sink.port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        settings = MailSettings(host="localhost", port=sink.port, retry_for_seconds=0)
        assert await _send_one(tmp_path, settings, sink) is MailState.FAILED  # system CAs only
    finally:
        controller.stop()
    assert sink.received == []
