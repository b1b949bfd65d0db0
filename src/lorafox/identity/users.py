"""Human users as a principal sees them: list, read, create, change, delete, passwords.

A user is visible through its roles: a principal sees it when it sees one of the groups the user
has a role in, and is shown only those roles. Changing or deleting a user needs ADMIN on every
group it has a role in (so an admin of a subgroup cannot touch an admin of the root); granting a
role needs ADMIN on that role's group.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Iterable, Sequence

from lorafox.auth import rbac
from lorafox.auth.passwords import generate_secret, hash_password, verify_password
from lorafox.domain import Group, Principal, PrincipalKind, Profile, User, UserRole, new_id
from lorafox.errors import InvalidInput, NotFound
from lorafox.identity.groups import Groups
from lorafox.identity.validation import (
    check_email,
    check_name,
    check_password,
    check_profiles,
    check_text,
    check_timezone,
    is_id,
)
from lorafox.ports.store import IdentityStore, MemberQuery

__all__ = ["Users"]

log = logging.getLogger(__name__)


class Users:
    """User use cases; every method checks what ``principal`` may see and do."""

    def __init__(self, store: IdentityStore, groups: Groups) -> None:
        self._store = store
        self._groups = groups

    async def _find(self, principal: Principal, user_id: str) -> tuple[User, dict[str, Group]]:
        """The user and the groups of its roles; ``NotFound`` unless ``principal`` sees one."""
        user = await self._store.get_user(user_id) if is_id(user_id) else None
        if user is None:
            raise NotFound("user not found")
        groups = await self._store.get_groups({r.group_id for r in user.roles})
        if user.id != principal.id and not any(
            rbac.visible(principal, g.path) for g in groups.values()
        ):
            raise NotFound("user not found")
        return user, groups

    def visible_roles(
        self, principal: Principal, user: User, groups: dict[str, Group]
    ) -> list[tuple[Group, Profile]]:
        """The roles of ``user`` on groups ``principal`` sees (what it may be shown)."""
        return [
            (groups[r.group_id], r.profile)
            for r in user.roles
            if r.group_id in groups
            and (user.id == principal.id or rbac.visible(principal, groups[r.group_id].path))
        ]

    async def get(self, principal: Principal, user_id: str) -> tuple[User, dict[str, Group]]:
        return await self._find(principal, user_id)

    async def groups_of(self, users: Iterable[User]) -> dict[str, Group]:
        return await self._store.get_groups({r.group_id for u in users for r in u.roles})

    async def list(
        self,
        principal: Principal,
        *,
        group_ids: Sequence[str] = (),
        deep: bool = False,
        text: str | None = None,
        profile: str | None = None,
        sort: str = "id",
        limit: int = 100,
        offset: int = 0,
    ) -> list[User]:
        paths = rbac.visible_roots(principal)
        ids: tuple[str, ...] = ()
        if group_ids:
            wanted = await self._groups.get_many(principal, group_ids)
            if deep:
                paths = tuple(g.path for g in wanted)
            else:
                ids = tuple(g.id for g in wanted)
        query = MemberQuery(
            paths=paths,
            group_ids=ids,
            profile=check_profiles([profile], "profileId")[0] if profile else None,
            text=check_text(text, "text") if text else None,
            sort=sort,
            limit=limit,
            offset=offset,
        )
        return await self._store.list_users(query)

    async def _roles(
        self, principal: Principal, roles: Iterable[tuple[str, str]]
    ) -> tuple[UserRole, ...]:
        """Requested (group id, profile id) pairs, each needing ADMIN on its group."""
        pairs = list(roles)
        if not pairs:
            raise InvalidInput("userRoles: at least one role is needed", field="userRoles")
        profiles = [check_profiles([p], "userRoles.profileId")[0] for _, p in pairs]
        groups = await self._groups.get_many(principal, [g for g, _ in pairs], rbac.ADMINISTER)
        by_id = {g.id: g for g in groups}
        unique = dict.fromkeys(
            UserRole(by_id[g].id, p) for (g, _), p in zip(pairs, profiles, strict=True)
        )
        return tuple(unique)

    async def create(
        self,
        principal: Principal,
        *,
        email: str,
        first_name: str,
        last_name: str,
        roles: Iterable[tuple[str, str]],
        timezone: str = "UTC",
        password: str | None = None,
    ) -> tuple[User, str | None]:
        """The new user, and its password when lorafox generated it (shown once)."""
        email = check_email(email)
        first_name = check_name(first_name, "firstName")
        last_name = check_name(last_name, "lastName")
        timezone = check_timezone(timezone)
        generated = None
        if password is None:
            password = generated = generate_secret()
        check_password(password)
        user_roles = await self._roles(principal, roles)
        user = User(
            id=new_id(),
            email=email,
            first_name=first_name,
            last_name=last_name,
            timezone=timezone,
            roles=user_roles,
            created_at=int(time.time() * 1000),
            password_hash=await asyncio.to_thread(hash_password, password),
        )
        await self._store.create_user(user)
        log.info("user %s (%s) created by %s", user.id, user.email, principal.id)
        return user, generated

    async def _manageable(self, principal: Principal, user_id: str) -> User:
        user, groups = await self._find(principal, user_id)
        rbac.require_all(principal, [g.path for g in groups.values()], rbac.ADMINISTER, "user")
        return user

    async def update(
        self,
        principal: Principal,
        user_id: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        timezone: str | None = None,
        roles: Iterable[tuple[str, str]] | None = None,
    ) -> User:
        """Change names, timezone; ``roles`` replaces every role."""
        user = await self._manageable(principal, user_id)
        updated = dataclasses.replace(
            user,
            first_name=user.first_name
            if first_name is None
            else check_name(first_name, "firstName"),
            last_name=user.last_name if last_name is None else check_name(last_name, "lastName"),
            timezone=user.timezone if timezone is None else check_timezone(timezone),
            roles=user.roles if roles is None else await self._roles(principal, roles),
        )
        await self._store.update_user(updated)
        log.info("user %s updated by %s", user.id, principal.id)
        return updated

    async def add_roles(
        self, principal: Principal, user_id: str, roles: Iterable[tuple[str, str]]
    ) -> User:
        user = await self._manageable(principal, user_id)
        added = await self._roles(principal, roles)
        updated = dataclasses.replace(user, roles=tuple(dict.fromkeys(user.roles + added)))
        await self._store.update_user(updated)
        log.info("user %s given roles by %s", user.id, principal.id)
        return updated

    async def remove_role(
        self, principal: Principal, user_id: str, profile: str, group_id: str | None
    ) -> User:
        """Remove ``profile`` from the user (on ``group_id`` only, when given); its last role
        cannot go (delete the user instead)."""
        user = await self._manageable(principal, user_id)
        wanted = check_profiles([profile], "profileId")[0]
        kept = tuple(
            r
            for r in user.roles
            if not (r.profile is wanted and (group_id is None or r.group_id == group_id))
        )
        if len(kept) == len(user.roles):
            raise NotFound("the user has no such role")
        if not kept:
            raise InvalidInput("a user keeps at least one role: delete the user instead")
        updated = dataclasses.replace(user, roles=kept)
        await self._store.update_user(updated)
        log.info("user %s lost a role, by %s", user.id, principal.id)
        return updated

    async def delete(self, principal: Principal, user_id: str) -> None:
        user = await self._manageable(principal, user_id)
        await self._store.delete_user(user.id)
        log.info("user %s (%s) deleted by %s", user.id, user.email, principal.id)

    async def set_password(
        self, principal: Principal, user_id: str, new: str, *, current: str | None = None
    ) -> None:
        """A user changes its own password (``current`` must match); an ADMIN over all of
        another user's groups resets it."""
        check_password(new, "newPassword")
        if principal.kind is PrincipalKind.USER and principal.id == user_id:
            user = await self._store.get_user(user_id) if is_id(user_id) else None
            if user is None:
                raise NotFound("user not found")
            if current is None or not await asyncio.to_thread(
                verify_password, user.password_hash, current
            ):
                raise InvalidInput(
                    "currentPassword: the current password is needed and must match",
                    field="currentPassword",
                )
        else:
            user = await self._manageable(principal, user_id)
        await self._store.set_password(user.id, await asyncio.to_thread(hash_password, new))
        log.info("password of user %s changed by %s", user.id, principal.id)
