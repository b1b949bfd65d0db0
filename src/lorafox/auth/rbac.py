"""Role-based access control: pure decisions over a ``Principal`` and group paths.

A principal holds grants (a profile on a group). It sees the groups it holds a grant on and
everything below them; what it may do on an object is the strongest profile among its grants on
the object's group or any ancestor of it:

    VIEWER          read anything it sees
    DEVICE_MANAGER  + write devices, device types, callbacks, downlinks
    ADMIN           + write groups, users and API users

An object it does not see is ``NotFound`` (404, never 403, so ids cannot be probed); one it sees
but may not change is ``Forbidden`` (403). Group paths are ``/root/child/…/self/``: a subtree is a
prefix of the path.
"""

from __future__ import annotations

from collections.abc import Iterable

from lorafox.domain.identity import Grant, Principal, Profile
from lorafox.errors import Forbidden, NotFound

__all__ = [
    "ADMINISTER",
    "OPERATE",
    "PERMISSIONS",
    "READ",
    "holds_anywhere",
    "home",
    "is_root_admin",
    "is_within",
    "profile_at",
    "require",
    "require_all",
    "strongest",
    "visible",
    "visible_roots",
]

READ = Profile.VIEWER
"""Needed to read anything."""
OPERATE = Profile.DEVICE_MANAGER
"""Needed to change devices, device types, callbacks and downlinks."""
ADMINISTER = Profile.ADMIN
"""Needed to change groups, users and API users."""

_READS = ("groups:read", "users:read", "api-users:read", "devices:read", "downlinks:read")
_OPERATES = ("devices:write", "device-types:write", "callbacks:write", "downlinks:write")
_ADMINISTERS = ("groups:write", "users:write", "api-users:write")
PERMISSIONS: dict[Profile, tuple[str, ...]] = {
    Profile.VIEWER: _READS,
    Profile.DEVICE_MANAGER: _READS + _OPERATES,
    Profile.ADMIN: _READS + _OPERATES + _ADMINISTERS,
}
"""What each profile allows, as listed by ``/api/v2/profiles`` (the roles of Sigfox profiles)."""


def is_within(path: str, root: str) -> bool:
    """True when the group at ``path`` is the group at ``root`` or below it."""
    return path.startswith(root)


def is_root_admin(principal: Principal) -> bool:
    """True when ``principal`` holds ADMIN on the root group (a path of a single id)."""
    return any(g.profile is Profile.ADMIN and g.path.count("/") == 2 for g in principal.grants)


def strongest(profiles: Iterable[Profile]) -> Profile | None:
    """The strongest of ``profiles``, None when there is none."""
    return max(profiles, key=lambda p: p.rank, default=None)


def profile_at(principal: Principal, path: str) -> Profile | None:
    """What ``principal`` holds on the group at ``path``: None when it does not see it."""
    return strongest(g.profile for g in principal.grants if is_within(path, g.path))


def visible(principal: Principal, path: str) -> bool:
    return profile_at(principal, path) is not None


def holds_anywhere(principal: Principal, needed: Profile) -> bool:
    """True when ``principal`` holds ``needed`` (or stronger) on some group."""
    return any(g.profile.rank >= needed.rank for g in principal.grants)


def home(principal: Principal) -> Grant | None:
    """The grant nearest the root: where what the principal makes belongs (an API user's
    group); None for a principal without grants."""
    return min(principal.grants, key=lambda g: len(g.path), default=None)


def visible_roots(principal: Principal) -> tuple[str, ...]:
    """The paths of the topmost groups ``principal`` sees (no path is below another)."""
    paths = sorted({g.path for g in principal.grants}, key=lambda p: (len(p), p))
    roots: list[str] = []
    for path in paths:
        if not any(is_within(path, root) for root in roots):
            roots.append(path)
    return tuple(roots)


def require(principal: Principal, path: str, needed: Profile, what: str) -> Profile:
    """The profile ``principal`` holds at ``path`` if it is at least ``needed``;
    ``NotFound`` (naming ``what``) when it does not see the group, else ``Forbidden``."""
    held = profile_at(principal, path)
    if held is None:
        raise NotFound(f"{what} not found")
    if held.rank < needed.rank:
        raise Forbidden(f"{needed.label} is needed to do this; you hold {held.label} here")
    return held


def require_all(principal: Principal, paths: Iterable[str], needed: Profile, what: str) -> None:
    """Like ``require`` for an object spread over several groups (a user with roles in several):
    ``NotFound`` when ``principal`` sees none of them, ``Forbidden`` unless it holds ``needed``
    on every one."""
    held = [profile_at(principal, path) for path in paths]
    if not any(p is not None for p in held):
        raise NotFound(f"{what} not found")
    if any(p is None or p.rank < needed.rank for p in held):
        raise Forbidden(f"{needed.label} is needed on every group of this {what}")
