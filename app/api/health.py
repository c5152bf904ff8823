"""Liveness and readiness. Ready means the database (and Redis, when configured) answer; each
tenant's backends are reported in the details but never take the replica out of service."""

from __future__ import annotations

import msgspec
from litestar import Controller, MediaType, Response, get
from sqlalchemy import text

from app.api.deps import ServicesDep


class HealthStatus(msgspec.Struct, omit_defaults=True):
    status: str
    checks: dict[str, str] = msgspec.field(default_factory=dict)
    # Backend circuit breakers seen by this replica: reported, never a reason to be unready.
    backends: dict[str, str] = msgspec.field(default_factory=dict)


class HealthController(Controller):
    path = "/health"
    tags = ["Health"]

    @get("/live", operation_id="getLiveness", summary="The process is up and serving")
    async def live(self) -> HealthStatus:
        return HealthStatus(status="ok")

    @get("/ready", operation_id="getReadiness", summary="The process can serve traffic")
    async def ready(self, services: ServicesDep) -> Response[HealthStatus]:
        checks: dict[str, str] = {}
        try:
            async with services.db.session() as session:
                await session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as error:  # noqa: BLE001 - any failure means not ready
            checks["database"] = f"unavailable: {type(error).__name__}"
        if services.redis is not None:
            try:
                await services.redis.ping()
                checks["redis"] = "ok"
            except Exception as error:  # noqa: BLE001 - any failure means not ready
                checks["redis"] = f"unavailable: {type(error).__name__}"
        backends = {}
        for shield in services.shields.known():
            state = await shield.state()
            backends[f"{shield.backend}:{shield.target[:8]}"] = f"breaker {state['breaker']}"
        ready = all(value == "ok" for value in checks.values())
        return Response(
            content=HealthStatus(
                status="ok" if ready else "unavailable", checks=checks, backends=backends
            ),
            status_code=200 if ready else 503,
            media_type=MediaType.JSON,
            headers={"Cache-Control": "no-store"}
            if ready
            else {"Cache-Control": "no-store", "Retry-After": "5"},
        )
