"""Settings, one dataclass per concern, read from the environment only by `Settings.from_env`.

Nothing reads the environment at import time: tests build `Settings` directly and pass them to
`create_app(settings)`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


def _env_bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """`url` is a SQLAlchemy async URL: `sqlite+aiosqlite:///var/gateway.db` (embedded tier) or
    `postgresql+asyncpg://user@host/db` (production)."""

    url: str
    pool_size: int = 10
    # Seconds a request waits for a pooled connection before it is answered 503 (busy).
    pool_timeout: float = 10.0
    echo: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """OAuth 2.0 issuer settings. `issuer` is the `iss` of every token and the base of the
    metadata document; `audience` the `aud` every /v1 token must carry."""

    issuer: str = "http://127.0.0.1:8000"
    audience: str = "retail-gateway"
    access_token_ttl: int = 900
    # Verified tokens are remembered in process until they expire, so a hot path pays one
    # signature check per token, not per request.
    verified_token_cache_size: int = 10_000


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """The outbox worker. `embedded` runs it inside the server process (embedded tier)."""

    embedded: bool = True
    poll_interval: float = 0.2
    batch_size: int = 20
    lease_seconds: float = 60.0
    max_attempts: int = 12
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    # How often backends' feeds of order changes are read (seconds).
    feed_interval: float = 5.0
    # How often the worker loop removes idempotency records past their lifetime (seconds).
    prune_interval: float = 3600.0


@dataclass(frozen=True, slots=True)
class ShadowSettings:
    """Shadow reads during a migration, per process: at most `concurrency` comparisons at once,
    `backlog` queued or running before new ones are dropped (and counted as dropped), each
    waiting at most `timeout` seconds for the candidate backend."""

    concurrency: int = 8
    backlog: int = 200
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class HttpSettings:
    max_body_bytes: int = 1_048_576
    default_page_size: int = 50
    max_page_size: int = 200


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """How long the gateway waits on Redis. A Redis that does not answer within `timeout`
    seconds (or does not accept a connection within `connect_timeout`) counts as
    unreachable; quotas and the cache then work without it on this replica (README, "When
    Redis is unreachable") and try it again after `retry_after_failure` seconds."""

    timeout: float = 0.5
    connect_timeout: float = 0.5
    retry_after_failure: float = 5.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the gateway needs to run. Switching tier is configuration, not code."""

    database: DatabaseSettings
    var_dir: Path = Path("var")
    # Master key for secrets at rest (signing keys, backend credentials). The embedded tier
    # keeps one in var/secret.key; production passes GATEWAY_SECRET_KEY.
    secret_key: str | None = None
    redis_url: str | None = None
    redis: RedisSettings = field(default_factory=RedisSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    shadow: ShadowSettings = field(default_factory=ShadowSettings)
    # Quota defaults over the built-in ones (same shape as a tenant's overrides, see
    # app.quotas.policy); GATEWAY_QUOTA_DEFAULTS holds them as JSON.
    quota_defaults: dict[str, Any] | None = None
    # How long an Idempotency-Key's first response is kept and replayed (seconds).
    idempotency_ttl: int = 86_400
    # How long a keyed request in progress holds its key before a retry may take it over (a
    # request whose process died, or whose database went away mid-way, leaves its claim).
    idempotency_lock: int = 30
    # Cache freshness per domain, seconds: {"catalog": [fresh, stale_while_revalidate,
    # stale_if_error], ...}; GATEWAY_CACHE_FRESHNESS holds them as JSON.
    cache_freshness: dict[str, list[float]] | None = None
    bootstrap_demo: bool = True
    auto_migrate: bool = True
    service_name: str = "retail-gateway"
    log_level: str = "INFO"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, *, port: int | None = None
    ) -> Settings:
        env = dict(os.environ if environ is None else environ)
        var_dir = Path(env.get("GATEWAY_VAR_DIR", "var"))
        default_db = f"sqlite+aiosqlite:///{var_dir / 'gateway.db'}"
        database_url = env.get("DATABASE_URL") or default_db
        if database_url.startswith(("postgresql://", "postgres://")):
            database_url = "postgresql+asyncpg://" + database_url.split("://", 1)[1]
        is_sqlite = database_url.startswith("sqlite")
        issuer = env.get("GATEWAY_ISSUER") or f"http://127.0.0.1:{port or 8000}"
        return cls(
            database=DatabaseSettings(
                url=database_url,
                pool_size=int(env.get("DATABASE_POOL_SIZE", "10")),
                pool_timeout=float(env.get("DATABASE_POOL_TIMEOUT", "10")),
                echo=_env_bool(env.get("DATABASE_ECHO"), default=False),
            ),
            var_dir=var_dir,
            secret_key=env.get("GATEWAY_SECRET_KEY") or None,
            redis_url=env.get("REDIS_URL") or None,
            redis=RedisSettings(
                timeout=float(env.get("GATEWAY_REDIS_TIMEOUT", "0.5")),
                connect_timeout=float(env.get("GATEWAY_REDIS_CONNECT_TIMEOUT", "0.5")),
                retry_after_failure=float(env.get("GATEWAY_REDIS_RETRY_AFTER", "5")),
            ),
            auth=AuthSettings(
                issuer=issuer.rstrip("/"),
                audience=env.get("GATEWAY_AUDIENCE", "retail-gateway"),
                access_token_ttl=int(env.get("GATEWAY_TOKEN_TTL", "900")),
            ),
            worker=WorkerSettings(
                embedded=_env_bool(env.get("GATEWAY_EMBEDDED_WORKER"), default=is_sqlite),
                poll_interval=float(env.get("GATEWAY_WORKER_POLL_INTERVAL", "0.2")),
                batch_size=int(env.get("GATEWAY_WORKER_BATCH_SIZE", "20")),
                lease_seconds=float(env.get("GATEWAY_WORKER_LEASE_SECONDS", "60")),
                max_attempts=int(env.get("GATEWAY_WORKER_MAX_ATTEMPTS", "12")),
                backoff_base=float(env.get("GATEWAY_WORKER_BACKOFF_BASE", "1.0")),
                backoff_max=float(env.get("GATEWAY_WORKER_BACKOFF_MAX", "300")),
                feed_interval=float(env.get("GATEWAY_FEED_INTERVAL", "5.0")),
                prune_interval=float(env.get("GATEWAY_IDEMPOTENCY_PRUNE_INTERVAL", "3600")),
            ),
            shadow=ShadowSettings(
                concurrency=int(env.get("GATEWAY_SHADOW_CONCURRENCY", "8")),
                backlog=int(env.get("GATEWAY_SHADOW_BACKLOG", "200")),
                timeout=float(env.get("GATEWAY_SHADOW_TIMEOUT", "10")),
            ),
            bootstrap_demo=_env_bool(env.get("GATEWAY_DEMO"), default=is_sqlite),
            cache_freshness=json.loads(env["GATEWAY_CACHE_FRESHNESS"])
            if env.get("GATEWAY_CACHE_FRESHNESS")
            else None,
            idempotency_ttl=int(env.get("GATEWAY_IDEMPOTENCY_TTL", "86400")),
            idempotency_lock=int(env.get("GATEWAY_IDEMPOTENCY_LOCK", "30")),
            quota_defaults=json.loads(env["GATEWAY_QUOTA_DEFAULTS"])
            if env.get("GATEWAY_QUOTA_DEFAULTS")
            else None,
            auto_migrate=_env_bool(env.get("GATEWAY_AUTO_MIGRATE"), default=True),
            log_level=env.get("GATEWAY_LOG_LEVEL", "INFO"),
        )
