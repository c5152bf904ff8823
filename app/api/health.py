"""Liveness and readiness. Ready means the database (and Redis, when configured) answer; each
backend this replica has served is reported in the details, from what its shield has seen
(breaker, last answer, last failure with its class), but never takes the replica out of
service and is never probed here: one readiness call costs one shield state read per backend,
not a call to every tenant's ERP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from litestar import Controller, MediaType, Response, get
from litestar.openapi.datastructures import ResponseSpec

from app.api.deps import ServicesDep
from app.services import Services


class BackendHealth(msgspec.Struct, omit_defaults=True):
    """One backend configuration as the shield saw it. `status` is `failing` while the
    breaker is open or the last call failed, `ok` when the last call was answered, `unknown`
    before any call."""

    backend: str
    adapter: str
    status: Literal["ok", "failing", "unknown"]
    breaker: str
    consecutive_failures: int
    # How many tenant domains this backend serves here. Which tenants is the operator's to
    # know (`/admin/tenants/{tenant}/shield`): readiness is public and names no tenant.
    bound_domains: int = 0
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_failure: str | None = None


class HealthStatus(msgspec.Struct, omit_defaults=True):
    status: str
    checks: dict[str, str] = msgspec.field(default_factory=dict)
    # Backend circuit breakers seen by this replica: reported, never a reason to be unready.
    backends: dict[str, str] = msgspec.field(default_factory=dict)
    # The same backends in detail.
    backend_health: list[BackendHealth] = msgspec.field(default_factory=list)


def _when(seconds: Any) -> datetime | None:
    return datetime.fromtimestamp(float(seconds), UTC) if seconds is not None else None


def _status(state: dict[str, Any]) -> Literal["ok", "failing", "unknown"]:
    ok_at, fail_at = state.get("last_success_at"), state.get("last_failure_at")
    if state.get("breaker") == "open" or (
        fail_at is not None and (ok_at is None or fail_at >= ok_at)
    ):
        return "failing"
    return "ok" if ok_at is not None else "unknown"


async def backend_health(services: Services) -> list[BackendHealth]:
    bound: dict[str, int] = {}
    for backends in services.backends.resolved().values():
        for target in backends.targets.values():
            bound[target] = bound.get(target, 0) + 1
    report = []
    for shield in services.shields.known():
        state = await shield.state()
        report.append(
            BackendHealth(
                backend=f"{shield.backend}:{shield.target[:8]}",
                adapter=shield.backend,
                status=_status(state),
                breaker=str(state.get("breaker", "closed")),
                consecutive_failures=int(state.get("failures", 0)),
                bound_domains=bound.get(shield.target, 0),
                last_success_at=_when(state.get("last_success_at")),
                last_failure_at=_when(state.get("last_failure_at")),
                last_failure=state.get("last_failure"),
            )
        )
    return sorted(report, key=lambda item: item.backend)


class HealthController(Controller):
    path = "/health"
    tags = ["Health"]

    @get(
        "/live",
        operation_id="getLiveness",
        summary="The process is up and serving",
    )
    async def live(self) -> HealthStatus:
        return HealthStatus(status="ok")

    @get(
        "/ready",
        operation_id="getReadiness",
        summary="The process can serve traffic",
        description=(
            "Ready when the gateway's database (and Redis, when configured) answer; 503 with "
            "`Retry-After` otherwise. `backend_health` reports each backend this replica has "
            "called, from its shield (breaker, last answer, last failure and its error class), "
            "without calling it: a tenant's backend being down never makes the replica unready."
        ),
        responses={
            503: ResponseSpec(
                HealthStatus,
                description="Not ready: the database or Redis does not answer; see Retry-After",
                generate_examples=False,
            )
        },
    )
    async def ready(self, services: ServicesDep) -> Response[HealthStatus]:
        checks: dict[str, str] = {}
        try:
            await services.db.ping()
            checks["database"] = "ok"
        except Exception as error:  # noqa: BLE001 - any failure means not ready
            checks["database"] = f"unavailable: {type(error).__name__}"
        if services.redis is not None:
            try:
                await services.redis.ping()
                checks["redis"] = "ok"
            except Exception as error:  # noqa: BLE001 - any failure means not ready
                checks["redis"] = f"unavailable: {type(error).__name__}"
        details = await backend_health(services)
        ready = all(value == "ok" for value in checks.values())
        return Response(
            content=HealthStatus(
                status="ok" if ready else "unavailable",
                checks=checks,
                backends={item.backend: f"breaker {item.breaker}" for item in details},
                backend_health=details,
            ),
            status_code=200 if ready else 503,
            media_type=MediaType.JSON,
            headers={"Cache-Control": "no-store"}
            if ready
            else {"Cache-Control": "no-store", "Retry-After": "5"},
        )
