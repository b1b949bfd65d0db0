"""Topic rules on SQLAlchemy Core (``topic_rules``): the payload as JSON, the group, the flags."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Row, delete, insert, select, update

from lorafox.domain.rules import TopicRule
from lorafox.ports.rules import HttpRequest
from lorafox.store.sql.database import Repository
from lorafox.store.sql.tables import rule_http_outbox, topic_rules

__all__ = ["RuleHttpOutboxRepository", "RuleRepository"]


def _rule(row: Row[Any]) -> TopicRule:
    definition = orjson.loads(row.definition)
    return TopicRule(
        name=row.name,
        group_path=row.group_path,
        sql=definition["sql"],
        sql_version=definition.get("awsIotSqlVersion"),
        description=definition.get("description", ""),
        disabled=bool(row.disabled),
        actions=tuple(definition.get("actions", [])),
        error_action=definition.get("errorAction"),
        created_at=float(row.created_at),
        owner=row.owner,
    )


def _values(rule: TopicRule) -> dict[str, Any]:
    return {
        "group_path": rule.group_path,
        "definition": orjson.dumps(rule.payload()).decode(),
        "disabled": rule.disabled,
        "created_at": rule.created_at,
        "owner": rule.owner,
    }


class RuleRepository(Repository):
    """Implements ``lorafox.ports.rules.RuleStore``."""

    async def list_rules(self) -> Sequence[TopicRule]:
        async with self._db.reading() as conn:
            rows = (await conn.execute(select(topic_rules).order_by(topic_rules.c.name))).all()
        return [_rule(row) for row in rows]

    async def get_rule(self, name: str) -> TopicRule | None:
        return await self._first(select(topic_rules).where(topic_rules.c.name == name), _rule)

    async def create_rule(self, rule: TopicRule) -> bool:
        stmt = self._db.insert(topic_rules).values(name=rule.name, **_values(rule))
        stmt = stmt.on_conflict_do_nothing(index_elements=[topic_rules.c.name])
        async with self._db.writing() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def replace_rule(self, rule: TopicRule) -> bool:
        stmt = update(topic_rules).where(topic_rules.c.name == rule.name).values(**_values(rule))
        async with self._db.writing() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def delete_rule(self, name: str) -> bool:
        async with self._db.writing() as conn:
            result = await conn.execute(delete(topic_rules).where(topic_rules.c.name == name))
            return result.rowcount == 1


def _request(row: Row[Any]) -> HttpRequest:
    return HttpRequest(row.rule, row.url, orjson.loads(row.headers), bytes(row.body), row.id)


class RuleHttpOutboxRepository(Repository):
    """Implements ``lorafox.ports.rules.RuleHttpOutbox`` (``rule_http_outbox``): a claim is
    one ``UPDATE`` of the lapsed rows, picked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite's
    one writer makes the plain statement enough)."""

    async def keep(self, request: HttpRequest, claimed_by: str, until: int) -> int:
        stmt = insert(rule_http_outbox).values(
            rule=request.rule,
            url=request.url,
            headers=orjson.dumps(request.headers).decode(),
            body=request.body,
            created_at=int(time.time() * 1000),
            claimed_by=claimed_by,
            claimed_until=until,
        )
        async with self._db.writing() as conn:
            result = await conn.execute(stmt.returning(rule_http_outbox.c.id))
            return int(result.scalar_one())

    async def forget(self, request_id: int) -> None:
        async with self._db.writing() as conn:
            await conn.execute(delete(rule_http_outbox).where(rule_http_outbox.c.id == request_id))

    async def claim(
        self, claimed_by: str, now: int, until: int, limit: int
    ) -> Sequence[HttpRequest]:
        t = rule_http_outbox
        lapsed = t.c.claimed_until < now
        pick = select(t.c.id).where(lapsed).order_by(t.c.id).limit(limit)
        if self._db.postgres:
            pick = pick.with_for_update(skip_locked=True)
        stmt = (
            update(t)
            .where(t.c.id.in_(pick), lapsed)
            .values(claimed_by=claimed_by, claimed_until=until)
            .returning(*t.c)
        )
        async with self._db.writing() as conn:
            rows = (await conn.execute(stmt)).all()
        return sorted((_request(row) for row in rows), key=lambda r: r.id)

    async def renew(self, claimed_by: str, until: int, request_id: int | None = None) -> int:
        t = rule_http_outbox
        stmt = update(t).where(t.c.claimed_by == claimed_by).values(claimed_until=until)
        if request_id is not None:
            stmt = stmt.where(t.c.id == request_id)
        async with self._db.writing() as conn:
            return int((await conn.execute(stmt)).rowcount)

    async def release(self, claimed_by: str) -> None:
        t = rule_http_outbox
        stmt = (
            update(t).where(t.c.claimed_by == claimed_by).values(claimed_by=None, claimed_until=0)
        )
        async with self._db.writing() as conn:
            await conn.execute(stmt)
