"""Invitations and password resets: a mail with a single-use link to set one's password.

The link carries a random token; only its SHA-256 is stored, compared in constant time. A link
works once, until ``expiry`` seconds after it was sent; setting the password ends every link
of the user. Asking for a reset answers the same whether the address belongs to a user or not
(and in about the same time: the mail is prepared after the answer), and at most
``MAX_RESETS_PER_HOUR`` resets of one address are sent an hour.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from lorafox.auth.passwords import hash_password
from lorafox.domain import Mail, User
from lorafox.errors import InvalidInput, LorafoxError
from lorafox.identity.validation import check_password
from lorafox.mail import Mailer
from lorafox.ports.passwords import PasswordTokenStore
from lorafox.ports.store import IdentityStore

__all__ = ["LinkSettings", "PasswordLinks", "token_hash"]

log = logging.getLogger(__name__)

MAX_RESETS_PER_HOUR = 3
_INVITATION = "invitation"
_RESET = "reset"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(slots=True, frozen=True)
class LinkSettings:
    base_url: str
    """Where users reach lorafox (the links are ``{base_url}/password?token=…``)."""
    invitation_expiry: int = 7 * 24 * 3600
    reset_expiry: int = 3600


def _hours(seconds: int) -> str:
    return f"{seconds // 3600} hours" if seconds >= 7200 else f"{seconds // 60} minutes"


class PasswordLinks:
    """Sends the links (``invite``, ``forgot``) and takes them (``check``, ``set_password``)."""

    def __init__(
        self,
        store: PasswordTokenStore,
        identity: IdentityStore,
        mailer: Mailer,
        settings: LinkSettings,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._store = store
        self._identity = identity
        self._mailer = mailer
        self._settings = settings
        self._clock = clock
        self._resets: dict[str, deque[int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def mail_configured(self) -> bool:
        return self._mailer.configured

    async def _link(self, user: User, purpose: str, expiry: int) -> str:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        await self._store.add_token(token_hash(token), user.id, purpose, now + expiry * 1000, now)
        return f"{self._settings.base_url}/password?token={token}"

    async def invite(self, user: User) -> bool:
        """Mail ``user`` an invitation; False when no mail server is configured."""
        if not self._mailer.configured:
            return False
        expiry = self._settings.invitation_expiry
        link = await self._link(user, _INVITATION, expiry)
        body = (
            f"Hello {user.first_name},\n\n"
            "An account was made for you on lorafox. Choose your password here (the link works "
            f"once, for {_hours(expiry)}):\n\n{link}\n\nYour login is this address: {user.email}\n"
        )
        return await self._mailer.send(
            [Mail(user.email, "Your lorafox account", body, _INVITATION)]
        )

    def forgot(self, email: str) -> bool:
        """Mail a reset link to ``email`` if it is a user's (the answer does not say); False
        when no mail server is configured."""
        if not self._mailer.configured:
            return False
        task = asyncio.create_task(self._reset(email.strip().lower()))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def _allowed(self, email: str) -> bool:
        now = self._clock()
        sent = self._resets.setdefault(email, deque())
        while sent and sent[0] <= now - 3600_000:
            sent.popleft()
        if len(sent) >= MAX_RESETS_PER_HOUR:
            return False
        sent.append(now)
        if len(self._resets) > 10_000:  # forget the addresses of old requests
            for key in [k for k, v in self._resets.items() if not v][:5000]:
                del self._resets[key]
        return True

    async def _reset(self, email: str) -> None:
        try:
            user = await self._identity.get_user_by_email(email)
            if user is None or not self._allowed(email):
                return
            expiry = self._settings.reset_expiry
            link = await self._link(user, _RESET, expiry)
            body = (
                f"Hello {user.first_name},\n\n"
                "Someone (you, we hope) asked to reset your lorafox password. Choose a new one "
                f"here (the link works once, for {_hours(expiry)}):\n\n{link}\n\n"
                "If you did not ask, ignore this mail: your password stays as it is.\n"
            )
            await self._mailer.send([Mail(user.email, "Reset your lorafox password", body, _RESET)])
        except LorafoxError as exc:
            log.error("password reset not sent: %s", exc)

    async def check(self, token: str) -> bool:
        """Whether the link still works (it is not used by this)."""
        if not token or len(token) > 128:
            return False
        return await self._store.peek_token(token_hash(token), self._clock()) is not None

    async def set_password(self, token: str, password: str) -> None:
        """Set the password of the link's user, once; ``InvalidInput`` for a link that does not
        work (used, expired or unknown: not told apart)."""
        check_password(password, "newPassword")
        if not token or len(token) > 128:
            raise InvalidInput("token: the link does not work (used, expired or wrong)")
        hashed = await asyncio.to_thread(hash_password, password)
        user_id = await self._store.use_token(token_hash(token), self._clock())
        if user_id is None:
            raise InvalidInput("token: the link does not work (used, expired or wrong)")
        await self._identity.set_password(user_id, hashed)
        log.info("user %s set a password with a link", user_id)
