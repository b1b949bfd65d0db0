"""Who may do what: groups (a tree), users, API users, their profiles, and the caller.

Every group knows its ``path``: the ids from the root down to itself, ``/root/child/self/``, so
a subtree is a prefix and the ancestors are the path's segments.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "ApiUser",
    "Grant",
    "Group",
    "Principal",
    "PrincipalKind",
    "Profile",
    "User",
    "UserRole",
    "new_id",
]


def new_id() -> str:
    """A 24-hex-digit id like Sigfox's (MongoDB ObjectIds): 4 bytes of seconds, 8 random bytes,
    so sorting by id is roughly sorting by creation."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"


class Profile(StrEnum):
    """The three profiles a role or an API user can hold, weakest first."""

    VIEWER = "VIEWER"
    DEVICE_MANAGER = "DEVICE_MANAGER"
    ADMIN = "ADMIN"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def label(self) -> str:
        """The name shown in the Sigfox style: ``DEVICE MANAGER [W]``."""
        return _LABEL[self]


_RANK = {Profile.VIEWER: 0, Profile.DEVICE_MANAGER: 1, Profile.ADMIN: 2}
_LABEL = {
    Profile.VIEWER: "VIEWER [R]",
    Profile.DEVICE_MANAGER: "DEVICE MANAGER [W]",
    Profile.ADMIN: "ADMIN [W]",
}


@dataclass(slots=True, frozen=True)
class Group:
    """A node of the group tree; the root has no parent."""

    id: str
    name: str
    description: str
    type: int
    timezone: str
    parent_id: str | None
    path: str
    created_at: int
    created_by: str | None = None

    @property
    def ancestry(self) -> tuple[str, ...]:
        """The ids from the root down to this group, itself included."""
        return tuple(part for part in self.path.split("/") if part)

    @property
    def level(self) -> int:
        """0 for the root, 1 for its children, and so on."""
        return len(self.ancestry) - 1


@dataclass(slots=True, frozen=True)
class UserRole:
    """A user holds ``profile`` on ``group_id`` and everything below it."""

    group_id: str
    profile: Profile


@dataclass(slots=True, frozen=True)
class User:
    """A human who logs in with an email (the first-start admin logs in as ``admin``)."""

    id: str
    email: str
    first_name: str
    last_name: str
    timezone: str
    roles: tuple[UserRole, ...]
    created_at: int
    last_login_at: int | None = None
    password_hash: str = field(default="", repr=False)


@dataclass(slots=True, frozen=True)
class ApiUser:
    """A machine login (the Sigfox *API access*): its id is the login, ``secret`` the password
    encrypted with the secret box (it must be readable again: it is also a SigV4 secret key)."""

    id: str
    name: str
    timezone: str
    group_id: str
    profiles: tuple[Profile, ...]
    created_at: int
    secret: str = field(default="", repr=False)


class PrincipalKind(StrEnum):
    USER = "user"
    API_USER = "api_user"
    SYSTEM = "system"  # the CLI, acting as an ADMIN of the root group


@dataclass(slots=True, frozen=True)
class Grant:
    """``profile`` on the group at ``path`` and its subtree."""

    group_id: str
    path: str
    profile: Profile


@dataclass(slots=True, frozen=True)
class Principal:
    """The authenticated caller: a user or an API user, and what it holds where."""

    kind: PrincipalKind
    id: str
    name: str
    grants: tuple[Grant, ...]
