"""Who is calling: the verified claims of an access token, reduced to what the gateway uses."""

from __future__ import annotations

from dataclasses import dataclass

ALL_V1_SCOPES: tuple[str, ...] = (
    "products:read",
    "inventory:read",
    "inventory:reserve",
    "orders:read",
    "orders:write",
    "customers:read",
    "customers:write",
    "webhooks:manage",
)
ADMIN_SCOPE = "admin"
KNOWN_SCOPES = frozenset((*ALL_V1_SCOPES, ADMIN_SCOPE))


@dataclass(frozen=True, slots=True)
class Principal:
    client_id: str
    tenant_id: str | None
    scopes: frozenset[str]
    token_id: str
    expires_at: int

    def has(self, scope: str) -> bool:
        return scope in self.scopes
