"""Alert subscriptions (``/api/v2/alerts``): which events of a group, device type or device are
told to whom, by mail and through apprise URLs; and a test notification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from lorafox.alerts import ALERT_EVENTS, AlertChanges
from lorafox.api.context import Caller, Ctx
from lorafox.api.schemas import Created, error_responses
from lorafox.domain import Alert

__all__ = ["router"]

router = APIRouter(prefix="/api/v2/alerts", tags=["alerts"])

_EVENTS = ", ".join(e.value for e in ALERT_EVENTS)


class AlertOut(BaseModel):
    id: str
    name: str
    groupId: str  # noqa: N815
    deviceTypeId: str | None = None  # noqa: N815
    device: str | None = None
    eventTypes: list[str] = Field(description=_EVENTS)  # noqa: N815
    emails: list[str]
    urls: list[str] = Field(description="apprise URLs")
    enabled: bool
    digestSeconds: int  # noqa: N815
    maxPerHour: int  # noqa: N815
    creationTime: int  # noqa: N815
    mailConfigured: bool = Field(description="false: lorafox has no mail server: no mail is sent")  # noqa: N815


class AlertList(BaseModel):
    data: list[AlertOut]


class AlertFields(BaseModel):
    name: str | None = Field(default=None, max_length=128)
    eventTypes: list[str] | None = Field(default=None, max_length=20, description=_EVENTS)  # noqa: N815
    deviceTypeId: str | None = Field(  # noqa: N815
        default=None, max_length=24, description='only this device type\'s events ("" clears)'
    )
    device: str | None = Field(
        default=None, max_length=8, description='only this device\'s events ("" clears)'
    )
    emails: list[str] | None = Field(default=None, max_length=10)
    urls: list[str] | None = Field(
        default=None,
        max_length=10,
        description="apprise URLs: slack://…, msteams://…, tgram://…, discord://…, ntfy://…, "
        "json://host/path …; hosts as callbacks.allowed_networks allows",
    )
    enabled: bool | None = None
    digestSeconds: int | None = Field(  # noqa: N815
        default=None, ge=0, le=86400, description="events gathered into one notification"
    )
    maxPerHour: int | None = Field(default=None, ge=1, le=3600)  # noqa: N815

    def changes(self, group_id: str | None = None) -> AlertChanges:
        return AlertChanges(
            name=self.name,
            group_id=group_id,
            event_types=self.eventTypes,
            device_type_id=self.deviceTypeId,
            device=self.device,
            emails=self.emails,
            urls=self.urls,
            enabled=self.enabled,
            digest_seconds=self.digestSeconds,
            max_per_hour=self.maxPerHour,
        )


class AlertCreate(AlertFields):
    name: str = Field(max_length=128)
    groupId: str | None = Field(default=None, description="default: the caller's group")  # noqa: N815
    eventTypes: list[str] = Field(min_length=1, max_length=20, description=_EVENTS)  # noqa: N815


class TestResult(BaseModel):
    mailSent: bool | None = Field(  # noqa: N815
        description="the mail was queued; false: no mail server is configured; null: no emails"
    )
    notified: int = Field(description="apprise URLs reached")
    errors: list[str]


def _out(a: Alert, mail: bool) -> AlertOut:
    return AlertOut(
        id=a.id,
        name=a.name,
        groupId=a.group_id,
        deviceTypeId=a.device_type_id,
        device=a.device,
        eventTypes=list(a.event_types),
        emails=list(a.emails),
        urls=list(a.urls),
        enabled=a.enabled,
        digestSeconds=a.digest_seconds,
        maxPerHour=a.max_per_hour,
        creationTime=a.created_at,
        mailConfigured=mail,
    )


@router.get("", summary="Alerts of the groups the caller sees", responses=error_responses(400, 404))
async def list_alerts(
    ctx: Ctx,
    caller: Caller,
    group_id: Annotated[
        str | None, Query(alias="groupId", description="this group's and its subgroups'")
    ] = None,
) -> AlertList:
    found = await ctx.alerts.list(caller, group_id)
    return AlertList(data=[_out(a, ctx.mail_configured) for a in found])


@router.post(
    "",
    status_code=201,
    summary="Create an alert (DEVICE_MANAGER of its group)",
    responses=error_responses(400, 403, 404, 409),
)
async def create_alert(ctx: Ctx, caller: Caller, body: AlertCreate) -> Created:
    made = await ctx.alerts.create(caller, body.changes(body.groupId))
    return Created(id=made.id)


@router.get("/{alert_id}", summary="An alert", responses=error_responses(404))
async def get_alert(ctx: Ctx, caller: Caller, alert_id: str) -> AlertOut:
    return _out(await ctx.alerts.get(caller, alert_id), ctx.mail_configured)


@router.put(
    "/{alert_id}",
    status_code=204,
    response_class=Response,
    summary="Change an alert (DEVICE_MANAGER)",
    responses=error_responses(400, 403, 404),
)
async def update_alert(ctx: Ctx, caller: Caller, alert_id: str, body: AlertFields) -> None:
    await ctx.alerts.update(caller, alert_id, body.changes())


@router.delete(
    "/{alert_id}",
    status_code=204,
    response_class=Response,
    summary="Delete an alert (DEVICE_MANAGER)",
    responses=error_responses(403, 404),
)
async def delete_alert(ctx: Ctx, caller: Caller, alert_id: str) -> None:
    await ctx.alerts.delete(caller, alert_id)


@router.post(
    "/{alert_id}/test",
    summary="Send a test notification now (DEVICE_MANAGER; counts against maxPerHour)",
    responses=error_responses(403, 404, 409),
)
async def test_alert(ctx: Ctx, caller: Caller, alert_id: str) -> TestResult:
    result = await ctx.alerts.test(caller, alert_id)
    return TestResult(
        mailSent=result.mail_sent, notified=result.notified, errors=list(result.errors)
    )
