"""`/admin/tenants/{tenant}/availability-rules` and `/inventory-figures`: how much stock each
channel is shown, and what reserving stock came to per channel."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, put
from litestar.params import FromPath, JSONBody

from app.api.body import StrictBody
from app.api.deps import ServicesDep
from app.api.guards import requires
from app.api.openapi import ADMIN, problems
from app.inventory.availability import ChannelRule
from app.problems import FieldError, NotFound, Unprocessable
from app.services import Services

Count = Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]


class RuleIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A channel's share of the stock (0-1, at most 4 decimals), the level below which it is
    shown 0, the stock held back from it per SKU, and the locations it may not sell from."""

    allocation_share: Annotated[float, msgspec.Meta(ge=0, le=1)] = 1.0
    reserve_threshold: Count = 0
    safety_stock: Count = 0
    excluded_locations: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=64)]],
        msgspec.Meta(max_length=500),
    ] = msgspec.field(default_factory=list)


class RuleOut(msgspec.Struct, kw_only=True):
    channel: str
    allocation_share: float
    reserve_threshold: int
    safety_stock: int
    excluded_locations: list[str]


class RuleList(msgspec.Struct, kw_only=True):
    data: list[RuleOut]


class ChannelFigures(msgspec.Struct, kw_only=True):
    channel: str
    reservations_created: int
    reservations_refused: int
    reservations_released: int
    reservations_expired: int
    reservations_consumed: int
    orders_oversold: int


class FigureList(msgspec.Struct, kw_only=True):
    data: list[ChannelFigures]


def _out(rule: ChannelRule) -> RuleOut:
    return RuleOut(
        channel=rule.channel,
        allocation_share=float(rule.allocation_share),
        reserve_threshold=rule.reserve_threshold,
        safety_stock=rule.safety_stock,
        excluded_locations=sorted(rule.excluded_locations),
    )


async def _channels(services: Services, tenant_id: str) -> list[str]:
    if await services.tenants.get_tenant(tenant_id) is None:
        raise NotFound(f"no tenant {tenant_id}")
    return await services.tenants.channels(tenant_id)


class AvailabilityAdminController(Controller):
    path = "/admin/tenants/{tenant_id:str}"
    tags = ["Admin"]
    guards = [requires("admin")]

    @get(
        "/availability-rules",
        operation_id="adminListAvailabilityRules",
        summary="The tenant's channel availability rules (channels without one see everything)",
        responses=problems(*ADMIN),
    )
    async def list_rules(self, services: ServicesDep, tenant_id: FromPath[str]) -> RuleList:
        await _channels(services, tenant_id)
        rules = await services.availability_rules.list(tenant_id)
        return RuleList(data=[_out(rule) for rule in rules])

    @put(
        "/availability-rules/{channel:str}",
        operation_id="adminPutAvailabilityRule",
        summary="Set a channel's availability rule",
        dto=StrictBody[RuleIn],
        return_dto=None,
        responses=problems(*ADMIN, 422),
    )
    async def put_rule(
        self,
        services: ServicesDep,
        tenant_id: FromPath[str],
        channel: FromPath[str],
        data: JSONBody[RuleIn],
    ) -> RuleOut:
        channels = await _channels(services, tenant_id)
        if channel not in channels:
            raise Unprocessable(
                f"unknown channel {channel!r}",
                errors=[FieldError("channel", "must be one of: " + ", ".join(channels))],
            )
        share = Decimal(repr(data.allocation_share))
        if share != share.quantize(Decimal("0.0001")):
            raise Unprocessable(
                "allocation_share has more than 4 decimals",
                errors=[FieldError("allocation_share", "at most 4 decimals, e.g. 0.3333")],
            )
        rule = ChannelRule(
            channel=channel,
            allocation_share=share,
            reserve_threshold=data.reserve_threshold,
            safety_stock=data.safety_stock,
            excluded_locations=frozenset(data.excluded_locations),
        )
        return _out(await services.availability_rules.put(tenant_id, rule))

    @delete(
        "/availability-rules/{channel:str}",
        operation_id="adminDeleteAvailabilityRule",
        summary="Remove a channel's rule: it sees all stock again",
        responses=problems(*ADMIN),
        status_code=204,
    )
    async def delete_rule(
        self, services: ServicesDep, tenant_id: FromPath[str], channel: FromPath[str]
    ) -> None:
        await _channels(services, tenant_id)
        if not await services.availability_rules.remove(tenant_id, channel):
            raise NotFound(f"no availability rule for channel {channel}")

    @get(
        "/inventory-figures",
        operation_id="adminGetInventoryFigures",
        summary="Reservation outcomes and oversold orders, per channel",
        responses=problems(*ADMIN),
    )
    async def figures(self, services: ServicesDep, tenant_id: FromPath[str]) -> FigureList:
        channels = await _channels(services, tenant_id)
        counted = await services.inventory_figures.by_channel(tenant_id)
        empty = dict.fromkeys(ChannelFigures.__struct_fields__[1:], 0)
        return FigureList(
            data=[
                ChannelFigures(channel=channel, **{**empty, **counted.get(channel, {})})
                for channel in sorted({*channels, *counted})
            ]
        )
