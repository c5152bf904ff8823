"""The calling tenant and client of one request, as domain services need them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CallContext:
    tenant_id: str
    client_id: str
    correlation_id: str
