"""``/api/v2/lora/integrations``: the LoRa network servers feeding a group.

The token (``Authorization: Bearer …`` of the network server's requests) is returned once, by
the creation; settings that are secrets are never returned (``secrets`` names those set).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from lorafox.api.context import ApiContext, Caller, Ctx
from lorafox.api.schemas import Offset, Paging, error_responses, page
from lorafox.domain import LoraIntegration
from lorafox.errors import NotFound
from lorafox.identity.validation import NAME_MAX
from lorafox.lora import LoraServices
from lorafox.lora.integrations import SECRET_KEYS

__all__ = ["router"]

router = APIRouter(prefix="/api/v2/lora/integrations", tags=["lora"])

IntegrationId = Annotated[str, Path(description="The LoRa integration identifier")]


class IntegrationOut(BaseModel):
    id: str
    name: str
    kind: str
    groupId: str  # noqa: N815 (Sigfox-style names)
    deviceTypeId: str | None = None  # noqa: N815
    appEui: str | None = None  # noqa: N815
    config: dict[str, Any] = Field(description="the kind's settings, secrets left out")
    secrets: list[str] = Field(description="secret settings that are set")
    creationTime: int = Field(description="epoch ms")  # noqa: N815


class IntegrationList(BaseModel):
    data: list[IntegrationOut]
    paging: Paging


class IntegrationCreate(BaseModel):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    kind: str = Field(description="semtech, chirpstack, tts or aws-iotwireless", max_length=32)
    groupId: str = Field(max_length=64)  # noqa: N815
    deviceTypeId: str | None = Field(default=None, max_length=64)  # noqa: N815
    appEui: str | None = Field(  # noqa: N815
        default=None, max_length=32, description="used in topics when the source gives none"
    )
    config: dict[str, Any] = Field(
        default_factory=dict,
        max_length=16,
        description="semtech: addresses; chirpstack: mqttUrl, applicationId; tts: "
        "downlinkPushUrl, downlinkApiKey, priority; aws-iotwireless: endpoint, region, "
        "accessKeyId, secretAccessKey",
    )


class IntegrationUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    deviceTypeId: str | None = Field(default=None, max_length=64)  # noqa: N815
    appEui: str | None = Field(default=None, max_length=32)  # noqa: N815
    config: dict[str, Any] | None = Field(default=None, max_length=16)


class IntegrationCreated(BaseModel):
    id: str
    token: str = Field(description="the Bearer token of the network server: shown this once")


def lora(ctx: ApiContext) -> LoraServices:
    services: LoraServices | None = ctx.lora
    if services is None:
        raise NotFound("LoRa is not enabled")
    return services


def _out(integration: LoraIntegration) -> IntegrationOut:
    config = integration.config
    return IntegrationOut(
        id=integration.id,
        name=integration.name,
        kind=integration.kind.value,
        groupId=integration.group_id,
        deviceTypeId=integration.device_type_id,
        appEui=integration.app_eui,
        config={k: v for k, v in config.items() if k not in SECRET_KEYS},
        secrets=sorted(k for k in config if k in SECRET_KEYS and config[k]),
        creationTime=integration.created_at,
    )


@router.get(
    "", summary="LoRa integrations of the groups the caller sees", responses=error_responses(400)
)
async def list_integrations(
    request: Request,
    ctx: Ctx,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    offset: Offset = 0,
) -> IntegrationList:
    found = await lora(ctx).integrations.list(caller, limit=limit + 1, offset=offset)
    return IntegrationList(
        data=[_out(i) for i in found[:limit]],
        paging=page(request, limit=limit, offset=offset, more=len(found) > limit),
    )


@router.post(
    "",
    status_code=201,
    summary="Create a LoRa integration (DEVICE_MANAGER on its group); its token, once",
    responses=error_responses(400, 403, 404),
)
async def create_integration(
    ctx: Ctx, caller: Caller, body: IntegrationCreate, response: Response
) -> IntegrationCreated:
    integration, token = await lora(ctx).integrations.create(
        caller,
        name=body.name,
        kind=body.kind,
        group_id=body.groupId,
        device_type_id=body.deviceTypeId,
        app_eui=body.appEui,
        config=body.config,
    )
    response.headers["location"] = f"{router.prefix}/{integration.id}"
    response.headers["cache-control"] = "no-store"
    return IntegrationCreated(id=integration.id, token=token)


@router.get("/{integration_id}", summary="A LoRa integration", responses=error_responses(404))
async def get_integration(
    ctx: Ctx, caller: Caller, integration_id: IntegrationId
) -> IntegrationOut:
    return _out(await lora(ctx).integrations.get(caller, integration_id))


@router.put(
    "/{integration_id}",
    status_code=204,
    response_class=Response,
    summary="Change a LoRa integration (DEVICE_MANAGER); a secret left out keeps its value",
    responses=error_responses(400, 403, 404),
)
async def update_integration(
    ctx: Ctx, caller: Caller, integration_id: IntegrationId, body: IntegrationUpdate
) -> None:
    await lora(ctx).integrations.update(
        caller,
        integration_id,
        name=body.name,
        device_type_id=body.deviceTypeId,
        app_eui=body.appEui,
        config=body.config,
    )


@router.delete(
    "/{integration_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a LoRa integration (DEVICE_MANAGER)",
    responses=error_responses(403, 404),
)
async def delete_integration(ctx: Ctx, caller: Caller, integration_id: IntegrationId) -> None:
    await lora(ctx).integrations.delete(caller, integration_id)
