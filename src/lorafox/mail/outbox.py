"""``Mailer``: every mail lorafox sends goes through one durable outbox.

A mail is stored before ``send`` returns; the sender hands the due ones to the mail server, at
most ``max_per_minute`` a minute (the rest wait their turn), and retries one the server refused
or could not take with exponential back-off for ``retry_for`` seconds, then gives it up. A mail
whose attempt was cut short (a crash) stays pending and is sent at the next start. Without a
mail server configured nothing is stored: ``send`` answers False, and the deployment says so
once at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lorafox.domain import Mail, MailState, QueuedMail
from lorafox.errors import ConfigError, LorafoxError, NotificationError
from lorafox.mail.smtp import SmtpServer, SmtpTransport
from lorafox.ports.mail import MailStore, MailTransport
from lorafox.settings import MailSettings

__all__ = ["Mailer", "Sending"]

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class Sending:
    """How mails are sent."""

    sender: str = "lorafox@localhost"
    max_per_minute: int = 60
    retry_for: float = 24 * 3600.0
    backoff: float = 5.0
    max_backoff: float = 900.0


def _tls_context(settings: MailSettings) -> ssl.SSLContext | None:
    if settings.ca_file is None:
        return None
    try:
        return ssl.create_default_context(cafile=str(settings.ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"mail.ca_file {settings.ca_file}: {exc}") from exc


KEEP_MS = 7 * 24 * 3600 * 1000
"""How long mails sent or given up stay in the outbox (for an operator to look at)."""
_PURGE_EVERY_S = 3600.0


class _Bucket:
    """A token bucket refilled at ``rate`` tokens a second, holding ``rate * 60`` at most."""

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self._rate = per_minute / 60.0
        self._capacity = float(per_minute)
        self._tokens = float(per_minute)
        self._clock = clock
        self._at = clock()

    def take(self) -> float:
        """0 when a token was taken, else the seconds until one is there."""
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self._rate


class Mailer:
    """The outbox (``send``) and its sender (``run`` until ``close``)."""

    def __init__(
        self,
        store: MailStore,
        transport: MailTransport | None,
        settings: Sending,
        clock: Callable[[], int],
        *,
        poll_interval: float = 1.0,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self._store = store
        self._transport = transport
        self._settings = settings
        self._clock = clock
        self._poll_interval = poll_interval
        loop_time = monotonic or (lambda: asyncio.get_running_loop().time())
        self._bucket: _Bucket | None = None
        self._monotonic = loop_time
        self._wakeup = asyncio.Event()
        self._closing = False
        # instances sharing a database: only the leader sends the outbox's mails
        self.leads: Callable[[], bool] = lambda: True

    @classmethod
    def create(cls, store: MailStore, settings: MailSettings, clock: Callable[[], int]) -> Mailer:
        """The mailer of the settings' SMTP server; without one, says so (once)."""
        s = settings
        transport = None
        if s.host:
            server = SmtpServer(
                host=s.host,
                port=s.port,
                security=s.security,
                username=s.username,
                password=None if s.password is None else s.password.get_secret_value(),
                timeout=s.timeout_seconds,
                tls_context=_tls_context(s),
            )
            transport = SmtpTransport(server)
            log.info("mail: through %s:%d (%s)", s.host, s.port, s.security)
        else:
            log.warning(
                "mail: no SMTP server (mail.host): lorafox sends no mail — no alerts by email, "
                "invitations or password resets"
            )
        sending = Sending(
            sender=s.from_address,
            max_per_minute=s.max_per_minute,
            retry_for=s.retry_for_seconds,
            backoff=s.backoff_seconds,
            max_backoff=s.max_backoff_seconds,
        )
        return cls(store, transport, sending, clock)

    @property
    def configured(self) -> bool:
        """Whether lorafox has a mail server to send through."""
        return self._transport is not None

    async def send(self, mails: Sequence[Mail]) -> bool:
        """Store ``mails`` in the outbox (sent soon after); False when no server is configured
        (nothing is stored)."""
        if self._transport is None:
            return False
        if mails:
            await self._store.enqueue_mails(mails, self._clock())
            self._wakeup.set()
        return True

    async def run(self) -> None:
        if self._transport is None:
            return
        self._bucket = _Bucket(self._settings.max_per_minute, self._monotonic)
        purged = -_PURGE_EVERY_S
        while not self._closing:
            if self._monotonic() - purged >= _PURGE_EVERY_S:
                purged = self._monotonic()
                await self._purge()
            due = []
            try:
                if self.leads():
                    due = await self._store.due_mails(self._clock(), 20)
            except LorafoxError as exc:
                log.error("mail: cannot read the outbox: %s", exc)
            for mail in due:
                await self._when_allowed()
                if self._closing:
                    break
                await self._attempt(mail)
            if due:
                continue
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._wakeup.wait()

    async def _when_allowed(self) -> None:
        assert self._bucket is not None  # noqa: S101 - set by run
        while (wait := self._bucket.take()) > 0 and not self._closing:  # noqa: ASYNC110 - a timed wait
            await asyncio.sleep(min(wait, 1.0))

    async def _attempt(self, mail: QueuedMail) -> None:
        assert self._transport is not None  # noqa: S101 - run returns without one
        attempts = mail.attempts + 1
        try:
            await self._transport.send(self._settings.sender, mail)
        except NotificationError as exc:
            now = self._clock()
            s = self._settings
            if exc.permanent or now - mail.created_at >= s.retry_for * 1000:
                log.warning("mail %d (%s) given up: %s", mail.id, mail.kind, exc.message)
                state, retry = MailState.FAILED, now
            else:
                log.info("mail %d (%s) not sent, retried: %s", mail.id, mail.kind, exc.message)
                delay = min(s.backoff * 2 ** (attempts - 1), s.max_backoff)
                state, retry = MailState.PENDING, now + int(delay * 1000)
            await self._record(mail, state, attempts, retry, exc.message, None)
            return
        now = self._clock()
        await self._record(mail, MailState.SENT, attempts, now, None, now)

    async def _record(
        self,
        mail: QueuedMail,
        state: MailState,
        attempts: int,
        retry: int,
        error: str | None,
        sent_at: int | None,
    ) -> None:
        try:
            await self._store.record_mail(mail.id, state, attempts, retry, error, sent_at)
        except LorafoxError as exc:  # pending: sent again (at least once)
            log.error("mail: cannot record mail %d: %s", mail.id, exc)
            await asyncio.sleep(1)

    async def _purge(self) -> None:
        try:
            count = await self._store.purge_mails(self._clock() - KEEP_MS)
        except LorafoxError as exc:
            log.error("mail: cannot purge the outbox: %s", exc)
            return
        if count:
            log.info("mail: %d mails sent or given up over a week ago forgotten", count)

    def close(self) -> None:
        self._closing = True
        self._wakeup.set()
