"""Dependencies controllers receive: the services and the caller's context."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from app.api.guards import principal_of
from app.context import CallContext
from app.correlation import current_correlation_id
from app.problems import FieldError, Forbidden, InvalidParameter
from app.services import Services


def provide_services(state: State) -> Services:
    services: Services = state.services
    return services


def provide_ctx(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> CallContext:
    # Depends on `services` only to be resolved after it: Litestar resolves dependencies of
    # one level concurrently in a task group, which costs more than the work itself.
    del services
    principal = principal_of(request)
    if principal.tenant_id is None:
        raise Forbidden("this token belongs to no tenant")
    return CallContext(
        tenant_id=principal.tenant_id,
        client_id=principal.client_id,
        correlation_id=current_correlation_id(),
    )


def as_utc(value: datetime | None, field: str = "updated_since") -> datetime | None:
    """Query timestamps without an offset are taken as UTC."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise InvalidParameter(
            f"{field} is out of range",
            errors=[FieldError(field, "out of range once converted to UTC")],
        ) from None


DEPENDENCIES = {
    "services": Provide(provide_services, sync_to_thread=False),
    "ctx": Provide(provide_ctx, sync_to_thread=False),
}

# Handler parameters name their dependencies explicitly (Litestar 3 drops inference).
ServicesDep = NamedDependency[Services]
Ctx = NamedDependency[CallContext]
