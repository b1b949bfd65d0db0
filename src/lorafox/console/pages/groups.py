"""``/console/groups``: the group tree the session's user sees, and, where it is ADMIN, a
form to create a group below one, to rename one, and a button to delete one.

The page calls ``Groups`` (list, create, update, delete) with the session's user, as the API
does; deleting a group that still has subgroups or members is refused there (``Conflict``) and
the refusal is shown above the tree.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from starlette.responses import RedirectResponse, Response

from lorafox.auth import rbac
from lorafox.console.context import (
    Cx,
    Session,
    group_choices,
    holds,
    page_router,
    visible_groups,
)
from lorafox.console.forms import Form, FormErrors
from lorafox.console.templating import NavItem
from lorafox.domain import Principal
from lorafox.errors import Conflict, InvalidInput

__all__ = ["NAV", "router"]

NAV = NavItem("Groups", "/console/groups", order=60)

router = page_router()
GroupId = Annotated[str, Path(max_length=64)]


async def _page(
    request: Request,
    cx: Cx,
    principal: Principal,
    *,
    notice: str = "",
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    groups = await visible_groups(cx, principal)
    top = min((g.level for g in groups), default=0)
    page = {
        "groups": groups,
        "top": top,
        "administers": {g.id: holds(principal, g.path, rbac.ADMINISTER) for g in groups},
        "parents": group_choices(groups, principal, rbac.ADMINISTER),
        "notice": notice,
        "errors": errors or FormErrors(),
        "v": values or {"name": "", "parentId": ""},
    }
    return cx.templates.render(request, "groups/list.html", page, status=status)


@router.get("/console/groups")
async def group_list(request: Request, cx: Cx, session: Session, done: str = "") -> Response:
    notice = {"saved": "Saved.", "deleted": "The group is deleted."}.get(done, "")
    return await _page(request, cx, session.principal, notice=notice)


@router.post("/console/groups/new")
async def create(request: Request, cx: Cx, session: Session, form: Form) -> Response:
    values = {"name": form.get("name").strip(), "parentId": form.get("parentId")}
    try:
        await cx.api.identity.groups.create(
            session.principal, name=values["name"], parent_id=values["parentId"] or None
        )
    except InvalidInput as exc:
        errors = FormErrors()
        errors.add_error(exc, ("name", "parentId"))
        return await _page(request, cx, session.principal, errors=errors, values=values, status=400)
    return RedirectResponse("/console/groups?done=saved", 303)


@router.post("/console/groups/{group_id}/rename")
async def rename(
    request: Request, cx: Cx, session: Session, group_id: GroupId, form: Form
) -> Response:
    try:
        await cx.api.identity.groups.update(session.principal, group_id, name=form.get("name"))
    except InvalidInput as exc:
        errors = FormErrors.refused("The group was not renamed", exc)
        return await _page(request, cx, session.principal, errors=errors, status=400)
    return RedirectResponse("/console/groups?done=saved", 303)


@router.post("/console/groups/{group_id}/delete")
async def delete(request: Request, cx: Cx, session: Session, group_id: GroupId) -> Response:
    try:
        await cx.api.identity.groups.delete(session.principal, group_id)
    except Conflict as exc:
        errors = FormErrors.refused("The group was not deleted", exc)
        return await _page(request, cx, session.principal, errors=errors, status=409)
    return RedirectResponse("/console/groups?done=deleted", 303)
