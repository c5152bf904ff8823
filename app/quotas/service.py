"""Deciding one request's quota: the rules that apply, counted in one step, and the headers
that announce them (draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy` and
`RateLimit`, one list item per rule)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.quotas.policy import ADMIN, ClassLimits, QuotaConfig, Rule, admin_limits, merged, rules_for
from app.quotas.store import QuotaStore, Verdict
from app.store.database import Database
from app.store.models import Tenant

MAX_MEMO = 50_000
_Memo = tuple["QuotaConfig | ClassLimits", list[Rule], bytes]


@dataclass(frozen=True, slots=True)
class QuotaDecision:
    allowed: bool
    retry_after: int
    headers: list[tuple[bytes, bytes]]


def _policy(rules: list[Rule]) -> bytes:
    return ", ".join(f'"{r.name}";q={r.quota};w={r.window}' for r in rules).encode()


def _headers(policy: bytes, verdicts: list[Verdict]) -> list[tuple[bytes, bytes]]:
    if not verdicts:
        return []
    state = ", ".join(f'"{v.rule.name}";r={v.remaining};t={v.reset_in}' for v in verdicts)
    return [(b"ratelimit-policy", policy), (b"ratelimit", state.encode())]


class QuotaService:
    def __init__(
        self,
        db: Database,
        store: QuotaStore,
        defaults: dict[str, Any] | None = None,
        config_ttl: float = 10.0,
    ) -> None:
        self._db = db
        self.store = store
        given = dict(defaults or {})
        self.admin = admin_limits(given.pop(ADMIN, None))
        self.defaults = merged(given)
        self._configs: dict[str, tuple[float, QuotaConfig]] = {}
        self._rules: dict[tuple[str, str | None, str], _Memo] = {}
        self._ttl = config_ttl

    async def check(self, route_class: str, tenant_id: str | None, client_id: str) -> QuotaDecision:
        config: QuotaConfig | ClassLimits = (
            self.admin if route_class == ADMIN else await self.config(tenant_id)
        )
        # One request's rules and policy header, kept while its tenant's configuration is.
        known = (route_class, tenant_id, client_id)
        memo = self._rules.get(known)
        if memo is None or memo[0] is not config:
            rules = rules_for(
                config, route_class, None if route_class == ADMIN else tenant_id, client_id
            )
            memo = (config, rules, _policy(rules))
            if len(self._rules) >= MAX_MEMO:
                self._rules.clear()
            self._rules[known] = memo
        _, rules, policy = memo
        verdicts = await self.store.hit(rules)
        refused = [v for v in verdicts if not v.allowed]
        return QuotaDecision(
            allowed=not refused,
            retry_after=max((v.reset_in for v in refused), default=0),
            headers=_headers(policy, verdicts),
        )

    async def config(self, tenant_id: str | None) -> QuotaConfig:
        if tenant_id is None:
            return self.defaults
        cached = self._configs.get(tenant_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        async with self._db.session() as session:
            overrides = await session.scalar(select(Tenant.quotas).where(Tenant.id == tenant_id))
        config = merged(overrides, self.defaults)
        self._configs[tenant_id] = (now, config)
        return config

    def forget(self, tenant_id: str) -> None:
        self._configs.pop(tenant_id, None)

    async def set_overrides(self, tenant_id: str, overrides: dict[str, Any]) -> QuotaConfig:
        config = merged(overrides, self.defaults)  # validates before anything is written
        async with self._db.session(write=True) as session:
            tenant = await session.get(Tenant, tenant_id)
            if tenant is not None:
                tenant.quotas = overrides
        self.forget(tenant_id)
        return config
