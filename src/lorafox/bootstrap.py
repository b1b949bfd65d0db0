"""First start: the admin user and the Sigfox callback credentials.

Taken from ``LORAFOX_ADMIN_PASSWORD``, ``LORAFOX_SIGFOX_USERNAME`` and ``LORAFOX_SIGFOX_PASSWORD``
when set, otherwise generated once and returned to the caller to print; they are never logged.
The Sigfox pair from the environment replaces what is stored at every start. The admin password
from the environment is applied when the admin is created and whenever the variable's value
changes — not at every start, so a password changed through the API or the CLI is kept.

The admin is the user ``admin`` (its login; users otherwise log in with their email), ADMIN of
the root group. When it is missing (first start, or deleted since) it is created again.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from dataclasses import dataclass

from lorafox.auth.passwords import generate_secret, hash_password, verify_password
from lorafox.auth.secretbox import SecretBox
from lorafox.domain import Profile, User, UserRole, new_id
from lorafox.errors import Conflict
from lorafox.ports.store import Credential, CredentialStore, Store
from lorafox.settings import Settings

__all__ = ["ADMIN", "SIGFOX", "CallbackCredentials", "Verifiers", "ensure_credentials"]

ADMIN = "admin"
SIGFOX = "sigfox"
ADMIN_FROM_ENV = "admin-password-env"
"""The credential row holding the argon2 hash of the last LORAFOX_ADMIN_PASSWORD applied."""


@dataclass(slots=True, frozen=True)
class CallbackCredentials:
    """What the Sigfox Back-End must send in its Basic auth header."""

    username: str
    password: str


async def _ensure_admin(store: Store, settings: Settings, notes: list[str]) -> None:
    wanted = settings.admin_password.get_secret_value() if settings.admin_password else None
    current = await store.identity.get_user_by_email(ADMIN)
    if current is not None and (wanted is None or await _applied_before(store.credentials, wanted)):
        return  # a password changed since (API, CLI) is kept: the variable is applied once
    password = wanted or generate_secret()
    hashed = await asyncio.to_thread(hash_password, password)
    if current is None:
        root = await store.identity.root_group()
        admin = User(
            id=new_id(),
            email=ADMIN,
            first_name=ADMIN,
            last_name="",
            timezone="UTC",
            roles=(UserRole(root.id, Profile.ADMIN),),
            created_at=int(time.time() * 1000),
            password_hash=hashed,
        )
        try:
            await store.identity.create_user(admin)
        except Conflict:  # another instance created it at the same moment
            return
    else:
        await store.identity.set_password(current.id, hashed)
    if wanted is None:
        notes.append(f"Admin user created: {ADMIN} / {password}")
    else:
        # remember which value was applied (its argon2 hash), so that the next start with the
        # same variable leaves a password changed through the API alone
        await store.credentials.put_credential(Credential(ADMIN_FROM_ENV, ADMIN, hashed))
        notes.append("Admin password set from LORAFOX_ADMIN_PASSWORD")


async def _applied_before(store: CredentialStore, wanted: str) -> bool:
    """Whether ``LORAFOX_ADMIN_PASSWORD`` already had this value at an earlier start."""
    applied = await store.get_credential(ADMIN_FROM_ENV)
    if applied is None:
        return False
    return await asyncio.to_thread(verify_password, applied.secret, wanted)


async def _ensure_sigfox(
    store: CredentialStore, settings: Settings, box: SecretBox, notes: list[str]
) -> CallbackCredentials:
    current = await store.get_credential(SIGFOX)
    stored = CallbackCredentials(current.username, box.decrypt(current.secret)) if current else None
    username = settings.sigfox_username or (stored.username if stored else SIGFOX)
    password = (
        settings.sigfox_password.get_secret_value()
        if settings.sigfox_password
        else (stored.password if stored else generate_secret())
    )
    wanted = CallbackCredentials(username, password)
    if wanted != stored:
        await store.put_credential(Credential(SIGFOX, username, box.encrypt(password)))
        if settings.sigfox_password is None:
            notes.append(f"Sigfox callback credentials created: {username} / {password}")
        else:
            notes.append("Sigfox callback credentials set from the environment")
    return wanted


@dataclass(slots=True)
class Verifiers:
    """The Sigfox callback credential check (``/api/v2`` uses ``PrincipalAuthenticator``)."""

    callback: CallbackCredentials

    async def sigfox(self, username: str, password: str) -> bool:
        user_ok = hmac.compare_digest(username.encode(), self.callback.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self.callback.password.encode())
        return user_ok & password_ok


async def ensure_credentials(
    store: Store, settings: Settings, box: SecretBox
) -> tuple[CallbackCredentials, list[str]]:
    """Create or update the credentials; returns the callback pair and lines to print once."""
    notes: list[str] = []
    await _ensure_admin(store, settings, notes)
    callback = await _ensure_sigfox(store.credentials, settings, box, notes)
    return callback, notes
