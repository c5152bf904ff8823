"""`/admin/tenants/{tenant}/migration`: move a tenant to another backend while its channels
keep calling: start (shadow reads begin), watch parity, cut over, roll back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from app.api.admin.bindings import Domain
from app.api.body import StrictBody
from app.api.deps import ServicesDep
from app.api.guards import requires
from app.api.openapi import ADMIN, problems


class MigrationStart(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The candidate binding; reads of `domains` (default: all) are shadowed to it."""

    adapter: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    settings: dict[str, Any] = msgspec.field(default_factory=dict)
    secrets: dict[str, str] = msgspec.field(default_factory=dict)
    domains: Annotated[list[Domain], msgspec.Meta(min_length=1, max_length=4)] | None = None
    sample_rate: Annotated[float, msgspec.Meta(ge=0, le=1)] = 1.0


class DifferenceExample(msgspec.Struct):
    """One subject seen to differ. `kind` is `drift` when every differing field is explained by
    a write the gateway made to the current backend during the migration, else `standing`.
    `current` and `candidate` hold the differing values by field path for catalog and
    inventory only; customer values are personal data and are never stored or returned."""

    subject: str
    fields: list[str]
    current: dict[str, Any]
    candidate: dict[str, Any]
    kind: Literal["standing", "drift"] = "standing"
    drifted_fields: list[str] = msgspec.field(default_factory=list)
    observed_at: datetime | None = None


class DomainParity(msgspec.Struct):
    """Shadow reads of one domain. `compared`, `equal`, `different`, `failed`, `timed_out`
    and `dropped` count comparisons (one subject of one shadowed read); `compared` = `equal`
    + `different`; `failed` could not be made (the candidate erred or, `timed_out`, did not
    answer in time); `dropped` were not attempted because the backlog of comparisons was full.
    `standing_subjects` and `drifted_subjects` count distinct subjects by kind."""

    compared: int
    equal: int
    different: int
    failed: int
    examples: list[DifferenceExample]
    timed_out: int = 0
    dropped: int = 0
    standing_subjects: int = 0
    drifted_subjects: int = 0


class MigrationReport(msgspec.Struct):
    id: str
    tenant_id: str
    state: str
    domains: list[str]
    current: dict[str, str]
    source: dict[str, str]
    target: str
    target_id: str
    sample_rate: float
    started_at: datetime
    switched_at: datetime | None
    rolled_back_at: datetime | None
    parity: dict[str, DomainParity]


def _report(raw: dict[str, Any]) -> MigrationReport:
    return msgspec.convert(raw, MigrationReport)


class MigrationAdminController(Controller):
    path = "/admin/tenants/{tenant_id:str}/migration"
    tags = ["Admin"]
    guards = [requires("admin")]

    @post(
        "/",
        operation_id="adminStartMigration",
        summary="Start moving a tenant to another backend (shadow reads begin)",
        dto=StrictBody[MigrationStart],
        return_dto=None,
        status_code=201,
        responses=problems(*ADMIN, 422),
    )
    async def start(
        self, services: ServicesDep, tenant_id: FromPath[str], data: JSONBody[MigrationStart]
    ) -> MigrationReport:
        report = await services.migrations.start(
            tenant_id,
            adapter=data.adapter,
            settings=data.settings,
            secrets=data.secrets,
            domains=list(data.domains) if data.domains else None,
            sample_rate=data.sample_rate,
        )
        return _report(report)

    @get(
        "/",
        operation_id="adminGetMigration",
        summary="The tenant's migration and its parity report",
        responses=problems(*ADMIN),
    )
    async def status(self, services: ServicesDep, tenant_id: FromPath[str]) -> MigrationReport:
        return _report(await services.migrations.report(tenant_id))

    @post(
        "/cutover",
        operation_id="adminCutoverMigration",
        summary="Switch the tenant to the candidate backend",
        status_code=200,
        responses=problems(*ADMIN),
    )
    async def cutover(self, services: ServicesDep, tenant_id: FromPath[str]) -> MigrationReport:
        return _report(await services.migrations.cutover(tenant_id))

    @post(
        "/rollback",
        operation_id="adminRollbackMigration",
        summary="Switch the tenant back to the backend it had when the migration started",
        status_code=200,
        responses=problems(*ADMIN),
    )
    async def rollback(self, services: ServicesDep, tenant_id: FromPath[str]) -> MigrationReport:
        return _report(await services.migrations.rollback(tenant_id))
