"""Groups, users and their roles, API users; the root group; the admin moves to ``users``.

The admin login stored by revision 0001 in ``credentials`` (name ``admin``, an argon2 hash)
becomes the user ``admin``, ADMIN of the root group, with the same password.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import secrets
import time

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ROOT_NAME = "root"
ADMIN = "admin"


def _new_id() -> str:
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"


def upgrade() -> None:
    groups = op.create_table(
        "groups",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column("type", sa.Integer, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("parent_id", sa.String(24), sa.ForeignKey("groups.id", name="fk_groups_parent")),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("created_by", sa.String(24)),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("path", name="uq_groups_path"),
    )
    op.create_index("ix_groups_parent", "groups", ["parent_id"])
    users = op.create_table(
        "users",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("email", sa.String(250), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_login_at", sa.BigInteger),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    user_roles = op.create_table(
        "user_roles",
        sa.Column(
            "user_id",
            sa.String(24),
            sa.ForeignKey("users.id", name="fk_user_roles_user", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "group_id",
            sa.String(24),
            sa.ForeignKey("groups.id", name="fk_user_roles_group"),
            primary_key=True,
        ),
        sa.Column("profile", sa.String(16), primary_key=True),
    )
    op.create_index("ix_user_roles_group", "user_roles", ["group_id"])
    op.create_table(
        "api_users",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column(
            "group_id",
            sa.String(24),
            sa.ForeignKey("groups.id", name="fk_api_users_group"),
            nullable=False,
        ),
        sa.Column("profiles", sa.String(64), nullable=False),
        sa.Column("secret", sa.String(512), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_api_users_group", "api_users", ["group_id"])

    now = int(time.time() * 1000)
    root = _new_id()
    op.bulk_insert(
        groups,
        [
            {
                "id": root,
                "name": ROOT_NAME,
                "description": "The top of the group tree",
                "type": 0,
                "timezone": "UTC",
                "parent_id": None,
                "path": f"/{root}/",
                "created_by": None,
                "created_at": now,
            }
        ],
    )
    credentials = sa.table(
        "credentials", sa.column("name"), sa.column("username"), sa.column("secret")
    )
    bind = op.get_bind()
    row = bind.execute(
        sa.select(credentials.c.username, credentials.c.secret).where(credentials.c.name == ADMIN)
    ).first()
    if row is not None:
        admin = _new_id()
        op.bulk_insert(
            users,
            [
                {
                    "id": admin,
                    "email": row.username.lower(),
                    "first_name": ADMIN,
                    "last_name": "",
                    "timezone": "UTC",
                    "password_hash": row.secret,
                    "created_at": now,
                    "last_login_at": None,
                }
            ],
        )
        op.bulk_insert(user_roles, [{"user_id": admin, "group_id": root, "profile": "ADMIN"}])
        bind.execute(sa.delete(credentials).where(credentials.c.name == ADMIN))


def downgrade() -> None:
    users = sa.table("users", sa.column("email"), sa.column("password_hash"))
    credentials = sa.table(
        "credentials", sa.column("name"), sa.column("username"), sa.column("secret")
    )
    bind = op.get_bind()
    row = bind.execute(sa.select(users.c.password_hash).where(users.c.email == ADMIN)).first()
    if row is not None:
        bind.execute(
            sa.insert(credentials).values(name=ADMIN, username=ADMIN, secret=row.password_hash)
        )
    op.drop_index("ix_api_users_group", "api_users")
    op.drop_table("api_users")
    op.drop_index("ix_user_roles_group", "user_roles")
    op.drop_table("user_roles")
    op.drop_table("users")
    op.drop_index("ix_groups_parent", "groups")
    op.drop_table("groups")
