"""The group tree as a principal sees it: list, read, create, change, delete."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Collection, Sequence

from lorafox.auth import rbac
from lorafox.domain import Group, Principal, Profile, new_id
from lorafox.errors import InvalidInput, NotFound
from lorafox.identity.validation import (
    DESCRIPTION_MAX,
    GROUP_NAME_MAX,
    GROUP_NAME_MIN,
    check_group_type,
    check_name,
    check_text,
    check_timezone,
    is_id,
)
from lorafox.ports.store import GroupQuery, IdentityStore

__all__ = ["MAX_DEPTH", "Groups"]

log = logging.getLogger(__name__)

MAX_DEPTH = 20
"""Levels below the root a group can sit at."""


class Groups:
    """Group use cases; every method checks what ``principal`` may see and do."""

    def __init__(self, store: IdentityStore) -> None:
        self._store = store

    async def get(self, principal: Principal, group_id: str, needed: Profile = rbac.READ) -> Group:
        """The group if ``principal`` sees it (else ``NotFound``) and holds ``needed`` there
        (else ``Forbidden``)."""
        group = await self._store.get_group(group_id) if is_id(group_id) else None
        if group is None:
            raise NotFound("group not found")
        rbac.require(principal, group.path, needed, "group")
        return group

    async def get_many(
        self, principal: Principal, group_ids: Collection[str], needed: Profile = rbac.READ
    ) -> list[Group]:
        """Like ``get`` for several ids (in the order given, repeats dropped)."""
        ordered = list(dict.fromkeys(group_ids))
        found = await self._store.get_groups([i for i in ordered if is_id(i)])
        groups: list[Group] = []
        for group_id in ordered:
            group = found.get(group_id)
            if group is None:
                raise NotFound(f"group {group_id} not found")
            rbac.require(principal, group.path, needed, f"group {group_id}")
            groups.append(group)
        return groups

    async def own(self, principal: Principal) -> list[Group]:
        """The groups ``principal`` holds a grant on."""
        found = await self._store.get_groups({g.group_id for g in principal.grants})
        return sorted(found.values(), key=lambda g: g.path)

    async def list(
        self,
        principal: Principal,
        *,
        parent_ids: Sequence[str] = (),
        deep: bool = False,
        name: str | None = None,
        types: Sequence[int] = (),
        sort: str = "id",
        limit: int = 100,
        offset: int = 0,
    ) -> list[Group]:
        """Without ``parent_ids``: the principal's own groups and their children (with ``deep``,
        everything it sees). With them: their children (with ``deep``, their subtrees)."""
        if parent_ids:
            tops = await self.get_many(principal, parent_ids)
            include = False
        else:
            tops = await self.own(principal)
            include = True
        query = GroupQuery(
            tops=tuple(tops),
            include_tops=include,
            deep=deep,
            name=check_text(name, "name") if name else None,
            types=tuple(types),
            sort=sort,
            limit=limit,
            offset=offset,
        )
        return await self._store.list_groups(query)

    async def by_id(self, principal: Principal, group_ids: Collection[str]) -> dict[str, Group]:
        """The groups of objects ``principal`` was shown, by id (``NotFound`` for one it does
        not see, or that went away meanwhile)."""
        return {g.id: g for g in await self.get_many(principal, group_ids)}

    async def ancestors(self, principal: Principal, groups: Sequence[Group]) -> dict[str, Group]:
        """The visible ancestors of ``groups``, by id (to render Sigfox's ``path``)."""
        ids = {a for g in groups for a in g.ancestry[:-1]}
        found = await self._store.get_groups(ids)
        return {k: g for k, g in found.items() if rbac.visible(principal, g.path)}

    async def create(
        self,
        principal: Principal,
        *,
        name: str,
        parent_id: str | None,
        description: str = "",
        type: int = 2,
        timezone: str = "UTC",
    ) -> Group:
        """A new group below ``parent_id`` (needs ADMIN there); without a parent, below the
        principal's own group when it has exactly one."""
        if parent_id is None:
            own = await self.own(principal)
            if len(own) != 1:
                raise InvalidInput("parentId: which group is the parent?", field="parentId")
            parent_id = own[0].id
        parent = await self.get(principal, parent_id, rbac.ADMINISTER)
        if parent.level + 1 > MAX_DEPTH:
            raise InvalidInput(
                f"parentId: groups nest {MAX_DEPTH} levels deep at most", field="parentId"
            )
        group_id = new_id()
        group = Group(
            id=group_id,
            name=check_name(name, "name", low=GROUP_NAME_MIN, high=GROUP_NAME_MAX),
            description=check_name(description, "description", high=DESCRIPTION_MAX, lines=True),
            type=check_group_type(type),
            timezone=check_timezone(timezone),
            parent_id=parent.id,
            path=f"{parent.path}{group_id}/",
            created_at=int(time.time() * 1000),
            created_by=principal.id,
        )
        await self._store.create_group(group)
        log.info(
            "group %s (%r) created below %s by %s", group.id, group.name, parent.id, principal.id
        )
        return group

    async def update(
        self,
        principal: Principal,
        group_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        type: int | None = None,
        timezone: str | None = None,
    ) -> Group:
        group = await self.get(principal, group_id, rbac.ADMINISTER)
        updated = dataclasses.replace(
            group,
            name=group.name
            if name is None
            else check_name(name, "name", low=GROUP_NAME_MIN, high=GROUP_NAME_MAX),
            description=group.description
            if description is None
            else check_name(description, "description", high=DESCRIPTION_MAX, lines=True),
            type=group.type if type is None else check_group_type(type),
            timezone=group.timezone if timezone is None else check_timezone(timezone),
        )
        await self._store.update_group(updated)
        log.info("group %s updated by %s", group.id, principal.id)
        return updated

    async def delete(self, principal: Principal, group_id: str) -> None:
        """Delete an empty group (``Conflict`` while it has subgroups or members)."""
        group = await self.get(principal, group_id, rbac.ADMINISTER)
        await self._store.delete_group(group.id)
        log.info("group %s (%r) deleted by %s", group.id, group.name, principal.id)
