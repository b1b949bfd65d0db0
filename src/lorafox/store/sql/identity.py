"""Groups, users and API users on SQLAlchemy Core (``IdentityRepository``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from lorafox.domain import (
    ApiUser,
    Grant,
    Group,
    Principal,
    PrincipalKind,
    Profile,
    User,
    UserRole,
)
from lorafox.errors import Conflict, NotFound, StoreError
from lorafox.ports.store import GroupQuery, Login, MemberQuery
from lorafox.store.sql.database import Repository
from lorafox.store.sql.rows import columns, record
from lorafox.store.sql.tables import (
    api_users,
    console_sessions,
    device_types,
    groups,
    user_roles,
    users,
)

__all__ = ["IdentityRepository"]

_GROUP_SORT = {
    "id": (groups.c.id,),
    "-id": (groups.c.id.desc(),),
    "name": (func.lower(groups.c.name), groups.c.id),
    "-name": (func.lower(groups.c.name).desc(), groups.c.id.desc()),
}
_USER_SORT = {
    "id": (users.c.id,),
    "-id": (users.c.id.desc(),),
    "name": (func.lower(users.c.first_name), func.lower(users.c.last_name), users.c.id),
    "-name": (
        func.lower(users.c.first_name).desc(),
        func.lower(users.c.last_name).desc(),
        users.c.id.desc(),
    ),
    "email": (users.c.email,),
    "-email": (users.c.email.desc(),),
}


def _profiles(text: str) -> tuple[Profile, ...]:
    return tuple(Profile(p) for p in text.split(",") if p)


def _joined(profiles: Sequence[Profile]) -> str:
    return ",".join(p.value for p in profiles)


def _api_user(row: Row[Any]) -> ApiUser:
    return record(ApiUser, row, profiles=_profiles(row._mapping["profiles"]))


def _within(paths: Sequence[str]) -> ColumnElement[bool]:
    """The group (``groups`` joined) lies in one of the subtrees at ``paths``."""
    if not paths:
        return false()
    return or_(*(groups.c.path.startswith(p, autoescape=True) for p in paths))


class IdentityRepository(Repository):
    """Implements ``lorafox.ports.store.IdentityStore``."""

    # -- groups ----------------------------------------------------------------------------

    async def root_group(self) -> Group:
        async with self._db.reading() as conn:
            row = (await conn.execute(select(groups).where(groups.c.parent_id.is_(None)))).first()
        if row is None:
            raise StoreError("the root group is missing: the database was not migrated")
        return record(Group, row)

    async def get_group(self, group_id: str) -> Group | None:
        query = select(groups).where(groups.c.id == group_id)
        return await self._first(query, lambda row: record(Group, row))

    async def get_groups(self, group_ids: Collection[str]) -> dict[str, Group]:
        if not group_ids:
            return {}
        async with self._db.reading() as conn:
            rows = await conn.execute(select(groups).where(groups.c.id.in_(list(group_ids))))
            return {row.id: record(Group, row) for row in rows}

    async def list_groups(self, query: GroupQuery) -> list[Group]:
        ids = [t.id for t in query.tops]
        wanted: list[ColumnElement[bool]] = []
        if query.include_tops:
            wanted.append(groups.c.id.in_(ids))
        if query.deep:
            wanted.extend(
                and_(groups.c.path.startswith(t.path, autoescape=True), groups.c.id != t.id)
                for t in query.tops
            )
        else:
            wanted.append(groups.c.parent_id.in_(ids))
        stmt = select(groups).where(or_(*wanted) if ids else false())
        if query.name:
            stmt = stmt.where(
                func.lower(groups.c.name).contains(query.name.lower(), autoescape=True)
            )
        if query.types:
            stmt = stmt.where(groups.c.type.in_(query.types))
        stmt = stmt.order_by(*_GROUP_SORT[query.sort]).limit(query.limit).offset(query.offset)
        async with self._db.reading() as conn:
            return [record(Group, row) for row in await conn.execute(stmt)]

    async def create_group(self, group: Group) -> None:
        async with self._db.writing() as conn:
            try:
                await conn.execute(insert(groups).values(**columns(group, groups)))
            except IntegrityError as exc:
                raise Conflict(f"group {group.id} cannot be created here") from exc

    async def update_group(self, group: Group) -> None:
        values = {
            "name": group.name,
            "description": group.description,
            "type": group.type,
            "timezone": group.timezone,
        }
        async with self._db.writing() as conn:
            result = await conn.execute(update(groups).where(groups.c.id == group.id), values)
        if not result.rowcount:
            raise NotFound("group not found")

    async def delete_group(self, group_id: str) -> None:
        async with self._db.writing() as conn:
            row = (
                await conn.execute(select(groups.c.parent_id).where(groups.c.id == group_id))
            ).first()
            if row is None:
                raise NotFound("group not found")
            if row.parent_id is None:
                raise Conflict("the root group cannot be deleted")
            for column, what in (
                (groups.c.parent_id, "subgroups"),
                (user_roles.c.group_id, "users"),
                (api_users.c.group_id, "API users"),
                (device_types.c.group_id, "device types"),
            ):
                if await conn.scalar(select(exists().where(column == group_id))):
                    raise Conflict(f"the group still has {what}: move or delete them first")
            try:
                await conn.execute(delete(groups).where(groups.c.id == group_id))
            except IntegrityError as exc:  # something was attached meanwhile
                raise Conflict("the group is not empty") from exc

    # -- users -----------------------------------------------------------------------------

    async def _roles(
        self, conn: AsyncConnection, user_ids: Sequence[str]
    ) -> dict[str, list[UserRole]]:
        found: dict[str, list[UserRole]] = {uid: [] for uid in user_ids}
        if not user_ids:
            return found
        rows = await conn.execute(
            select(user_roles)
            .where(user_roles.c.user_id.in_(list(user_ids)))
            .order_by(user_roles.c.group_id, user_roles.c.profile)
        )
        for row in rows:
            found[row.user_id].append(UserRole(row.group_id, Profile(row.profile)))
        return found

    async def _one_user(self, where: ColumnElement[bool]) -> User | None:
        async with self._db.reading() as conn:
            row = (await conn.execute(select(users).where(where))).first()
            if row is None:
                return None
            roles = await self._roles(conn, [row.id])
        return record(User, row, roles=tuple(roles[row.id]))

    async def get_user(self, user_id: str) -> User | None:
        return await self._one_user(users.c.id == user_id)

    async def get_user_by_email(self, email: str) -> User | None:
        return await self._one_user(users.c.email == email.lower())

    async def list_users(self, query: MemberQuery) -> list[User]:
        matching = (
            select(user_roles.c.user_id)
            .join(groups, groups.c.id == user_roles.c.group_id)
            .where(_within(query.paths))
        )
        if query.group_ids:
            matching = matching.where(user_roles.c.group_id.in_(query.group_ids))
        if query.profile is not None:
            matching = matching.where(user_roles.c.profile == query.profile.value)
        stmt: Select[Any] = select(users).where(users.c.id.in_(matching))
        if query.text:
            text = query.text.lower()
            full_name = func.lower(users.c.first_name + literal(" ") + users.c.last_name)
            stmt = stmt.where(
                or_(
                    users.c.email.contains(text, autoescape=True),
                    full_name.contains(text, autoescape=True),
                )
            )
        stmt = stmt.order_by(*_USER_SORT[query.sort]).limit(query.limit).offset(query.offset)
        async with self._db.reading() as conn:
            rows = list(await conn.execute(stmt))
            roles = await self._roles(conn, [row.id for row in rows])
        return [record(User, row, roles=tuple(roles[row.id])) for row in rows]

    async def _put_roles(self, conn: AsyncConnection, user: User) -> None:
        await conn.execute(delete(user_roles).where(user_roles.c.user_id == user.id))
        if user.roles:
            await conn.execute(
                insert(user_roles),
                [
                    {"user_id": user.id, "group_id": r.group_id, "profile": r.profile.value}
                    for r in set(user.roles)
                ],
            )

    async def create_user(self, user: User) -> None:
        async with self._db.writing() as conn:
            taken = await conn.scalar(select(exists().where(users.c.email == user.email)))
            if taken:
                raise Conflict(f"a user with the email {user.email} already exists")
            try:
                await conn.execute(insert(users).values(columns(user, users)))
                await self._put_roles(conn, user)
            except IntegrityError as exc:
                raise Conflict(f"a user with the email {user.email} already exists") from exc

    async def update_user(self, user: User) -> None:
        async with self._db.writing() as conn:
            result = await conn.execute(
                update(users).where(users.c.id == user.id),
                {
                    "first_name": user.first_name,
                    "last_name": user.last_name,
                    "timezone": user.timezone,
                },
            )
            if not result.rowcount:
                raise NotFound("user not found")
            try:
                await self._put_roles(conn, user)
            except IntegrityError as exc:  # a group vanished meanwhile
                raise Conflict("a group of these roles no longer exists") from exc

    async def set_password(self, user_id: str, password_hash: str) -> None:
        async with self._db.writing() as conn:
            result = await conn.execute(
                update(users).where(users.c.id == user_id), {"password_hash": password_hash}
            )
            await conn.execute(
                delete(console_sessions).where(console_sessions.c.user_id == user_id)
            )
        if not result.rowcount:
            raise NotFound("user not found")

    async def record_login(self, user_id: str, when: int) -> None:
        async with self._db.writing() as conn:
            await conn.execute(update(users).where(users.c.id == user_id), {"last_login_at": when})

    async def delete_user(self, user_id: str) -> None:
        async with self._db.writing() as conn:
            await conn.execute(delete(user_roles).where(user_roles.c.user_id == user_id))
            result = await conn.execute(delete(users).where(users.c.id == user_id))
        if not result.rowcount:
            raise NotFound("user not found")

    # -- API users -------------------------------------------------------------------------

    async def get_api_user(self, api_user_id: str) -> ApiUser | None:
        query = select(api_users).where(api_users.c.id == api_user_id)
        return await self._first(query, _api_user)

    async def list_api_users(self, query: MemberQuery) -> list[ApiUser]:
        stmt = (
            select(api_users)
            .join(groups, groups.c.id == api_users.c.group_id)
            .where(_within(query.paths))
        )
        if query.group_ids:
            stmt = stmt.where(api_users.c.group_id.in_(query.group_ids))
        if query.profile is not None:
            listed = literal(",") + api_users.c.profiles + literal(",")
            stmt = stmt.where(listed.contains(f",{query.profile.value},", autoescape=True))
        order = api_users.c.id.desc() if query.sort == "-id" else api_users.c.id
        stmt = stmt.order_by(order).limit(query.limit).offset(query.offset)
        async with self._db.reading() as conn:
            return [_api_user(row) for row in await conn.execute(stmt)]

    async def create_api_user(self, api_user: ApiUser) -> None:
        async with self._db.writing() as conn:
            try:
                await conn.execute(
                    insert(api_users).values(
                        columns(api_user, api_users, profiles=_joined(api_user.profiles))
                    )
                )
            except IntegrityError as exc:
                raise Conflict("the API user cannot be created in this group") from exc

    async def update_api_user(self, api_user: ApiUser) -> None:
        async with self._db.writing() as conn:
            result = await conn.execute(
                update(api_users).where(api_users.c.id == api_user.id),
                {
                    "name": api_user.name,
                    "timezone": api_user.timezone,
                    "profiles": _joined(api_user.profiles),
                },
            )
        if not result.rowcount:
            raise NotFound("API user not found")

    async def set_api_user_secret(self, api_user_id: str, secret: str) -> None:
        async with self._db.writing() as conn:
            result = await conn.execute(
                update(api_users).where(api_users.c.id == api_user_id), {"secret": secret}
            )
        if not result.rowcount:
            raise NotFound("API user not found")

    async def delete_api_user(self, api_user_id: str) -> None:
        async with self._db.writing() as conn:
            result = await conn.execute(delete(api_users).where(api_users.c.id == api_user_id))
        if not result.rowcount:
            raise NotFound("API user not found")

    # -- authentication --------------------------------------------------------------------

    async def find_login(self, login: str) -> Login | None:
        name = login.strip().lower()
        async with self._db.reading() as conn:
            row = (
                await conn.execute(
                    select(api_users, groups.c.path)
                    .join(groups, groups.c.id == api_users.c.group_id)
                    .where(api_users.c.id == name)
                )
            ).first()
            if row is not None:
                grants = tuple(Grant(row.group_id, row.path, p) for p in _profiles(row.profiles))
                principal = Principal(PrincipalKind.API_USER, row.id, row.name, grants)
                return Login(principal, row.secret)
            rows = list(
                await conn.execute(
                    select(
                        users.c.id,
                        users.c.email,
                        users.c.password_hash,
                        user_roles.c.group_id,
                        user_roles.c.profile,
                        groups.c.path,
                    )
                    .select_from(users)
                    .outerjoin(user_roles, user_roles.c.user_id == users.c.id)
                    .outerjoin(groups, groups.c.id == user_roles.c.group_id)
                    .where(users.c.email == name)
                )
            )
        if not rows:
            return None
        first = rows[0]
        grants = tuple(
            Grant(r.group_id, r.path, Profile(r.profile)) for r in rows if r.group_id is not None
        )
        principal = Principal(PrincipalKind.USER, first.id, first.email, grants)
        return Login(principal, first.password_hash)
