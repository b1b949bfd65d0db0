"""Groups, users and API users in the SQL store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from lorafox.auth.passwords import hash_password, verify_password
from lorafox.domain import ApiUser, Group, PrincipalKind, Profile, User, UserRole, new_id
from lorafox.errors import Conflict, NotFound
from lorafox.ports.store import GroupQuery, MemberQuery
from lorafox.store.sql import database as database_module
from lorafox.store.sql.store import SqlStore


def child(parent: Group, name: str, type: int = 2) -> Group:
    group_id = new_id()
    return Group(
        id=group_id,
        name=name,
        description="",
        type=type,
        timezone="UTC",
        parent_id=parent.id,
        path=f"{parent.path}{group_id}/",
        created_at=1,
    )


def user(email: str, *roles: tuple[Group, Profile]) -> User:
    return User(
        id=new_id(),
        email=email,
        first_name="F",
        last_name="L",
        timezone="UTC",
        roles=tuple(UserRole(g.id, p) for g, p in roles),
        created_at=1,
        password_hash="$argon2id$fake",
    )


def api_user(group: Group, *profiles: Profile) -> ApiUser:
    return ApiUser(new_id(), "n", "UTC", group.id, profiles, 1, secret="encrypted")


@dataclasses.dataclass
class Tree:
    root: Group
    a: Group
    a1: Group
    b: Group


@pytest.fixture
async def tree(store: SqlStore) -> Tree:
    root = await store.identity.root_group()
    a = child(root, "Alpha", type=8)
    a1 = child(a, "alpha one")
    b = child(root, "Beta")
    for group in (a, a1, b):
        await store.identity.create_group(group)
    return Tree(root, a, a1, b)


async def names(store: SqlStore, query: GroupQuery) -> list[str]:
    return [g.name for g in await store.identity.list_groups(query)]


async def test_the_root_group_exists_once(store: SqlStore) -> None:
    root = await store.identity.root_group()
    assert root.parent_id is None and root.level == 0 and root.path == f"/{root.id}/"
    assert len(root.id) == 24
    listed = await store.identity.list_groups(
        GroupQuery(tops=(root,), include_tops=True, deep=True)
    )
    assert listed == [root]


async def test_listing_groups(store: SqlStore, tree: Tree) -> None:
    t = tree
    assert await names(store, GroupQuery(tops=(t.root,), sort="name")) == ["Alpha", "Beta"]
    assert await names(store, GroupQuery(tops=(t.root,), deep=True, sort="name")) == [
        "Alpha",
        "alpha one",
        "Beta",
    ]
    assert await names(store, GroupQuery(tops=(t.a,), include_tops=True)) == sorted(
        ["Alpha", "alpha one"], key=lambda n: {"Alpha": t.a.id, "alpha one": t.a1.id}[n]
    )
    assert await names(
        store, GroupQuery(tops=(t.root,), deep=True, name="ALPHA", sort="-name")
    ) == [
        "alpha one",
        "Alpha",
    ]
    assert await names(store, GroupQuery(tops=(t.root,), deep=True, types=(8,))) == ["Alpha"]
    page = GroupQuery(tops=(t.root,), deep=True, sort="name", limit=1, offset=1)
    assert await names(store, page) == ["alpha one"]
    assert await names(store, dataclasses.replace(page, offset=3)) == []
    assert await names(store, GroupQuery(tops=())) == []
    got = await store.identity.get_groups([t.a.id, t.b.id, "nope"])
    assert set(got) == {t.a.id, t.b.id}
    assert t.a1.ancestry == (t.root.id, t.a.id, t.a1.id) and t.a1.level == 2


async def test_update_and_delete_groups(store: SqlStore, tree: Tree) -> None:
    t = tree
    await store.identity.update_group(
        dataclasses.replace(t.b, name="Bravo", timezone="Europe/Paris")
    )
    assert (await store.identity.get_group(t.b.id)) == dataclasses.replace(
        t.b, name="Bravo", timezone="Europe/Paris"
    )
    with pytest.raises(NotFound):
        await store.identity.update_group(child(t.root, "ghost"))
    with pytest.raises(Conflict, match="subgroups"):
        await store.identity.delete_group(t.a.id)
    with pytest.raises(Conflict, match="root"):
        await store.identity.delete_group(t.root.id)
    member = user("m@example.com", (t.b, Profile.VIEWER))
    await store.identity.create_user(member)
    with pytest.raises(Conflict, match="users"):
        await store.identity.delete_group(t.b.id)
    await store.identity.delete_user(member.id)
    machine = api_user(t.b, Profile.VIEWER)
    await store.identity.create_api_user(machine)
    with pytest.raises(Conflict, match="API users"):
        await store.identity.delete_group(t.b.id)
    await store.identity.delete_api_user(machine.id)
    await store.identity.delete_group(t.b.id)
    assert await store.identity.get_group(t.b.id) is None
    with pytest.raises(NotFound):
        await store.identity.delete_group(t.b.id)


async def test_users(store: SqlStore, tree: Tree) -> None:
    t = tree
    jane = user("jane@example.com", (t.a, Profile.ADMIN), (t.b, Profile.VIEWER))
    await store.identity.create_user(jane)
    with pytest.raises(Conflict, match="already exists"):
        await store.identity.create_user(user("jane@example.com", (t.a, Profile.VIEWER)))
    found = await store.identity.get_user_by_email("JANE@example.com")
    assert found is not None and found.id == jane.id
    assert set(found.roles) == set(jane.roles)
    bob = user("bob@example.com", (t.a1, Profile.DEVICE_MANAGER))
    await store.identity.create_user(bob)

    async def emails(**kw: object) -> list[str]:
        query = MemberQuery(**{"paths": (t.root.path,), "sort": "email", **kw})  # type: ignore[arg-type]
        return [u.email for u in await store.identity.list_users(query)]

    assert await emails() == ["bob@example.com", "jane@example.com"]
    assert await emails(paths=(t.a1.path,)) == ["bob@example.com"]
    assert await emails(paths=(t.b.path,)) == ["jane@example.com"]
    assert await emails(group_ids=(t.a.id,)) == ["jane@example.com"]
    assert await emails(profile=Profile.DEVICE_MANAGER) == ["bob@example.com"]
    assert await emails(text="JAN") == ["jane@example.com"]
    assert await emails(text="f l") == ["bob@example.com", "jane@example.com"]  # the name
    assert await emails(paths=()) == []
    assert await emails(sort="-email", limit=1) == ["jane@example.com"]

    await store.identity.update_user(
        dataclasses.replace(jane, first_name="Janet", roles=(UserRole(t.b.id, Profile.ADMIN),))
    )
    changed = await store.identity.get_user(jane.id)
    assert changed is not None and changed.first_name == "Janet"
    assert changed.roles == (UserRole(t.b.id, Profile.ADMIN),)
    await store.identity.set_password(jane.id, "$argon2id$other")
    await store.identity.record_login(jane.id, 42)
    changed = await store.identity.get_user(jane.id)
    assert changed is not None and changed.password_hash == "$argon2id$other"
    assert changed.last_login_at == 42
    await store.identity.delete_user(jane.id)
    assert await store.identity.get_user(jane.id) is None
    for missing in (store.identity.delete_user(jane.id), store.identity.set_password(jane.id, "x")):
        with pytest.raises(NotFound):
            await missing


async def test_api_users_and_logins(store: SqlStore, tree: Tree) -> None:
    t = tree
    machine = api_user(t.a1, Profile.VIEWER, Profile.DEVICE_MANAGER)
    other = api_user(t.b, Profile.ADMIN)
    await store.identity.create_api_user(machine)
    await store.identity.create_api_user(other)
    assert await store.identity.get_api_user(machine.id) == machine

    async def ids(**kw: object) -> set[str]:
        query = MemberQuery(**{"paths": (t.root.path,), **kw})  # type: ignore[arg-type]
        return {a.id for a in await store.identity.list_api_users(query)}

    assert await ids() == {machine.id, other.id}
    assert await ids(paths=(t.a.path,)) == {machine.id}
    assert await ids(group_ids=(t.b.id,)) == {other.id}
    assert await ids(profile=Profile.DEVICE_MANAGER) == {machine.id}
    assert await ids(profile=Profile.ADMIN) == {other.id}

    login = await store.identity.find_login(machine.id.upper())
    assert login is not None and login.secret == "encrypted"
    assert login.principal.kind is PrincipalKind.API_USER
    assert {(g.path, g.profile) for g in login.principal.grants} == {
        (t.a1.path, Profile.VIEWER),
        (t.a1.path, Profile.DEVICE_MANAGER),
    }
    await store.identity.update_api_user(
        dataclasses.replace(machine, profiles=(Profile.ADMIN,), name="m")
    )
    await store.identity.set_api_user_secret(machine.id, "renewed")
    login = await store.identity.find_login(machine.id)
    assert login is not None and login.secret == "renewed"
    assert [g.profile for g in login.principal.grants] == [Profile.ADMIN]

    person = user("p@example.com", (t.a, Profile.VIEWER))
    await store.identity.create_user(person)
    login = await store.identity.find_login(" P@Example.com ")
    assert login is not None and login.principal.kind is PrincipalKind.USER
    assert login.principal.id == person.id and login.secret == person.password_hash
    assert login.principal.grants[0].path == t.a.path
    assert await store.identity.find_login("nobody@example.com") is None
    await store.identity.delete_api_user(machine.id)
    assert await store.identity.find_login(machine.id) is None


def test_migration_moves_the_admin_login_to_users(tmp_path: Path) -> None:
    """A database made by revision 0001 keeps its admin password as the user ``admin``."""
    path = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    config = Config()
    config.set_main_option("script_location", str(database_module._MIGRATIONS))
    hashed = hash_password("old-admin-pw")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(
            sa.text("INSERT INTO credentials VALUES ('admin', 'admin', :h)"), {"h": hashed}
        )
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    engine.dispose()
    db = sqlite3.connect(path)
    try:
        [(user_id, email, stored)] = db.execute("SELECT id, email, password_hash FROM users")
        [(group_id, profile)] = db.execute(
            "SELECT group_id, profile FROM user_roles WHERE user_id = ?", (user_id,)
        )
        [(root_id,)] = db.execute("SELECT id FROM groups WHERE parent_id IS NULL")
        left = db.execute("SELECT count(*) FROM credentials WHERE name = 'admin'").fetchone()
    finally:
        db.close()
    assert email == "admin" and verify_password(stored, "old-admin-pw")
    assert (group_id, profile) == (root_id, "ADMIN")
    assert left == (0,)


async def test_a_password_change_ends_every_console_session_of_that_user(
    store: SqlStore, tree: Tree
) -> None:
    jane = user("jane@example.com", (tree.a, Profile.ADMIN))
    bob = user("bob@example.com", (tree.a, Profile.VIEWER))
    for u in (jane, bob):
        await store.identity.create_user(u)
    for id_hash, owner in (("j1", jane), ("j2", jane), ("b1", bob)):
        await store.sessions.add_session(id_hash, owner.id, now=1, expires_at=10**13)
    await store.identity.set_password(jane.id, "$argon2id$new")
    assert await store.sessions.find_session("j1", 2) is None
    assert await store.sessions.find_session("j2", 2) is None
    kept = await store.sessions.find_session("b1", 2)
    assert kept is not None and kept.user_id == bob.id
