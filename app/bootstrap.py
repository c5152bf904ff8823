"""The composition root: `create_app(settings)` wires settings, persistence, auth, the adapter
registry and the HTTP layer together. The only module that imports concrete adapters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar
from litestar.logging.config import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, OAuthFlow, OAuthFlows, SecurityScheme, Server
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from adapters.odoo import OdooBackend, OdooSecrets, OdooSettings
from adapters.sandbox import SandboxBackend, SandboxSettings
from adapters.tryton import TrytonBackend, TrytonSecrets, TrytonSettings
from app.api.admin.availability import AvailabilityAdminController
from app.api.admin.bindings import BindingAdminController
from app.api.admin.cache import CacheAdminController
from app.api.admin.dead_letters import DeadLetterAdminController
from app.api.admin.migrations import MigrationAdminController
from app.api.admin.quotas import QuotaAdminController
from app.api.admin.shields import ShieldAdminController
from app.api.admin.tenants import ClientAdminController, TenantAdminController
from app.api.deps import DEPENDENCIES
from app.api.errors import EXCEPTION_HANDLERS
from app.api.health import HealthController
from app.api.middleware import CorrelationMiddleware, authentication_middleware, quota_middleware
from app.api.oauth import OAuthController
from app.api.openapi import DocumentedJsonRenderPlugin
from app.api.params import QueryRules
from app.api.responses import HeadAsGet
from app.api.v1.availability import AvailabilityController, ReservationController
from app.api.v1.customers import CustomerController
from app.api.v1.inventory import InventoryController
from app.api.v1.orders import OrderController
from app.api.v1.products import ProductController
from app.auth.keys import SigningKeys
from app.auth.principal import KNOWN_SCOPES
from app.auth.tokens import TokenIssuer, TokenVerifier
from app.cache.edge import edge_cache_middleware
from app.cache.entry import freshness_from
from app.cache.reads import CachedReads
from app.cache.redis_store import RedisCacheStore
from app.cache.stores import MemoryCacheStore
from app.catalog.service import CatalogService
from app.crypto import SecretBox, load_or_create_master_key
from app.customers.email_locks import EmailLocks
from app.customers.service import CustomerService
from app.idempotency import IdempotencyStore
from app.inventory.levels import InventoryService
from app.inventory.reservations import StockLedger
from app.inventory.rules import AvailabilityRules, InventoryFigures
from app.orders.cancel import OrderCancellation
from app.orders.dead_letters import DeadLetters
from app.orders.intake import OrderIntake
from app.orders.queries import OrderQueries
from app.orders.sales import new_customer_key_for
from app.orders.worker import OutboxWorker
from app.paging import CursorCodec
from app.publicids import CUSTOMER, public_id
from app.quotas.service import QuotaService
from app.quotas.store import MemoryQuotaStore, RedisQuotaStore
from app.services import Services
from app.settings import Settings
from app.shield.redis_store import RedisShieldStore
from app.shield.service import ShieldRegistry
from app.store.database import Database, create_engine
from app.tenancy.bindings import BackendResolver, BindingStore
from app.tenancy.migration import MigrationService
from app.tenancy.migration_state import MigrationStates
from app.tenancy.registry import DOMAINS, AdapterRegistry, AdapterSpec
from app.tenancy.shadow import ShadowReads
from app.tenancy.tenants import TenantDirectory

log = logging.getLogger("gateway")

API_VERSION = "1.0.0"


def register_adapters(registry: AdapterRegistry, db: Database) -> None:
    """Every adapter this build ships, with the settings schema each declares. Adding a
    backend means one entry here."""
    write_engine = db.engine.execution_options(sqlite_write=True) if db.is_sqlite else db.engine
    registry.register(
        AdapterSpec(
            name="sandbox",
            factory=lambda settings, _secrets, _transport: SandboxBackend(
                db.engine, write_engine, settings.dataset
            ),
            domains=frozenset(DOMAINS),
            description="In-process reference ERP seeded with retail demo data",
            settings_schema=SandboxSettings,
            tenant_partition="dataset",
        )
    )
    registry.register(
        AdapterSpec(
            name="tryton",
            factory=TrytonBackend.from_settings,
            domains=frozenset(DOMAINS),
            description="Tryton ERP over JSON-RPC (product, stock, sale, party modules)",
            settings_schema=TrytonSettings,
            secrets_schema=TrytonSecrets,
            metered="requests",
        )
    )
    registry.register(
        AdapterSpec(
            name="odoo",
            factory=OdooBackend.from_settings,
            domains=frozenset(DOMAINS),
            description="Odoo 17 over its external JSON-RPC API (execute_kw)",
            settings_schema=OdooSettings,
            secrets_schema=OdooSecrets,
            metered="requests",
        )
    )


SIMULATORS = {"odoo": "adapters.odoo.simulator"}


def run_simulator(
    name: str,
    port: int,
    host: str = "127.0.0.1",
    *,
    database: str,
    login: str,
    password: str,
    seed: bool = True,
) -> None:
    """Serve a vendor simulator in the foreground (`gateway simulate odoo --port N`), accepting
    `login`/`password` on `database`."""
    if name != "odoo":
        msg = f"no simulator named {name!r}; known: {', '.join(SIMULATORS)}"
        raise ValueError(msg)
    from adapters.odoo.simulator import run

    run(port, host, database=database, login=login, password=password, seed=seed)


def build_services(settings: Settings) -> Services:
    """Everything a gateway process needs, built without I/O."""
    db = Database(create_engine(settings.database))
    box = SecretBox(load_or_create_master_key(settings.secret_key, settings.var_dir))
    keys = SigningKeys(db, box, settings.auth.access_token_ttl)
    registry = AdapterRegistry()
    register_adapters(registry, db)
    bindings = BindingStore(db, box, registry)
    redis = (
        Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis.timeout,
            socket_connect_timeout=settings.redis.connect_timeout,
            # One quick retry (a pooled connection Redis closed); no backoff: a Redis that
            # does not answer must cost a request one timeout, not a series of them.
            retry=Retry(NoBackoff(), 1),
        )
        if settings.redis_url
        else None
    )
    shields = ShieldRegistry(RedisShieldStore(redis) if redis is not None else None)
    backends = BackendResolver(bindings, registry, shields=shields)
    cursors = CursorCodec(box)
    idempotency = IdempotencyStore(
        db, ttl_seconds=settings.idempotency_ttl, lock_seconds=settings.idempotency_lock
    )
    tenants = TenantDirectory(db)
    cache = CachedReads(
        RedisCacheStore(redis, retry_after_failure=settings.redis.retry_after_failure)
        if redis is not None
        else MemoryCacheStore(),
        freshness_from(settings.cache_freshness),
        on_generation=backends.invalidate,
    )

    async def forget_cached(tenant_id: str) -> int:
        return await cache.invalidate(tenant_id, ["all"])

    migrations = MigrationService(
        db,
        tenants,
        registry,
        bindings,
        backends,
        states=MigrationStates(db, redis),
        on_switch=forget_cached,
    )
    shadow = ShadowReads(
        db,
        migrations,
        bindings,
        backends,
        concurrency=settings.shadow.concurrency,
        backlog=settings.shadow.backlog,
        timeout=settings.shadow.timeout,
    )
    catalog = CatalogService(backends, cursors, shadow, cache=cache)
    emails = EmailLocks(db)
    customers = CustomerService(backends, cursors, shadow, cache, emails=emails)
    quota_store = (
        RedisQuotaStore(redis, retry_after_failure=settings.redis.retry_after_failure)
        if redis is not None
        else MemoryQuotaStore()
    )
    inventory = InventoryService(backends, cursors, shadow, cache=cache)
    availability_rules = AvailabilityRules(db)
    inventory_figures = InventoryFigures(db)
    ledger = StockLedger(
        db, inventory=inventory, rules=availability_rules, idempotency=idempotency, tenants=tenants
    )

    async def stock_moved(tenant_id: str, skus: list[str]) -> int:
        # The levels shown to channels; not what the SKU is, nor the stock the ledger decides
        # on (an order's hold counts until that stock is newer: app.inventory.holds).
        return await cache.skus_changed(tenant_id, skus)

    async def delivered(tenant_id: str, skus: list[str], customer_key: str, order_id: str) -> None:
        await stock_moved(tenant_id, skus)
        await shadow.wrote(tenant_id, "inventory", {sku: ["*"] for sku in skus})
        # The backend may keep the order's address on its customer; a guest order created it.
        created = customer_key == new_customer_key_for(order_id)
        customer = public_id(CUSTOMER, customer_key)
        await shadow.wrote(tenant_id, "customers", {customer: ["*"] if created else ["addresses"]})

    worker = OutboxWorker(
        db,
        backends,
        settings.worker,
        idempotency=idempotency,
        bindings=bindings,
        on_delivered=delivered,
        on_feed_changed=stock_moved,
        expire_reservations=ledger.expire_due,
        emails=emails,
    )
    return Services(
        settings=settings,
        db=db,
        box=box,
        keys=keys,
        issuer=TokenIssuer(
            keys, settings.auth.issuer, settings.auth.audience, settings.auth.access_token_ttl
        ),
        verifier=TokenVerifier(
            keys,
            settings.auth.issuer,
            settings.auth.audience,
            settings.auth.verified_token_cache_size,
        ),
        registry=registry,
        bindings=bindings,
        backends=backends,
        cursors=cursors,
        tenants=tenants,
        idempotency=idempotency,
        catalog=catalog,
        inventory=inventory,
        availability_rules=availability_rules,
        inventory_figures=inventory_figures,
        ledger=ledger,
        customers=customers,
        intake=OrderIntake(
            db,
            catalog=catalog,
            customers=customers,
            idempotency=idempotency,
            tenants=tenants,
            ledger=ledger,
            on_accepted=worker.wake,
        ),
        orders=OrderQueries(db, cursors),
        worker=worker,
        cancellation=OrderCancellation(db),
        dead_letters=DeadLetters(db),
        migrations=migrations,
        shadow=shadow,
        quotas=QuotaService(db, quota_store, settings.quota_defaults),
        shields=shields,
        cache=cache,
        redis=redis,
    )


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Retail Gateway API",
        version=API_VERSION,
        description=(
            "One stable API for products, inventory, orders and customers, in front of the "
            "retailer's ERP and WMS. Authenticate with OAuth 2.0 client credentials."
        ),
        path="/openapi",
        render_plugins=[DocumentedJsonRenderPlugin()],
        servers=[Server(url="/")],
        components=Components(
            security_schemes={
                "oauth2": SecurityScheme(
                    type="oauth2",
                    description="OAuth 2.0 client credentials; access tokens are RFC 9068 JWTs.",
                    flows=OAuthFlows(
                        client_credentials=OAuthFlow(
                            token_url="/oauth/token",  # noqa: S106 - a URL, not a secret
                            scopes={scope: scope for scope in sorted(KNOWN_SCOPES)},
                        )
                    ),
                )
            }
        ),
        security=[{"oauth2": []}],
        use_handler_docstrings=False,
        create_examples=False,
    )


def logging_config(settings: Settings) -> LoggingConfig:
    """Litestar's logging, at the configured level (uvicorn's worker processes get no other
    configuration), and httpx's line per backend request off: it cost a cache miss some
    0.7 ms (bench/, README "Performance")."""
    return LoggingConfig(
        root={"handlers": ["queue_listener"], "level": settings.log_level.upper()},
        loggers={
            "litestar": {
                "level": settings.log_level.upper(),
                "handlers": ["queue_listener"],
                "propagate": False,
            },
            "httpx": {"level": "WARNING"},
        },
    )


def create_app(settings: Settings, services: Services | None = None) -> Litestar:
    """A gateway app. Pass `services` to share them with the caller (tests, the worker)."""
    built = services or build_services(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await built.keys.load(create_if_missing=True)
        if isinstance(built.cache.store, RedisCacheStore):
            await built.cache.store.start()
        await built.migrations.states.start()
        stop = asyncio.Event()
        worker_task = (
            asyncio.create_task(built.worker.run(stop), name="outbox-worker")
            if settings.worker.embedded
            else None
        )
        try:
            yield
        finally:
            stop.set()
            if worker_task is not None:
                await worker_task
            await built.shadow.drain()
            await built.migrations.states.stop()
            await built.cache.drain()
            if isinstance(built.cache.store, RedisCacheStore):
                await built.cache.store.stop()
            if services is None:
                await built.backends.aclose()
                await built.db.dispose()
                if built.redis is not None:
                    await built.redis.aclose()

    app = Litestar(
        route_handlers=[
            HealthController,
            OAuthController,
            ProductController,
            InventoryController,
            AvailabilityController,
            ReservationController,
            CustomerController,
            OrderController,
            TenantAdminController,
            ClientAdminController,
            BindingAdminController,
            MigrationAdminController,
            QuotaAdminController,
            CacheAdminController,
            ShieldAdminController,
            DeadLetterAdminController,
            AvailabilityAdminController,
        ],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=QueryRules(),
        middleware=[
            authentication_middleware(built.verifier),
            quota_middleware(built.quotas),
            edge_cache_middleware(built.cache),
        ],
        lifespan=[lifespan],
        logging_config=logging_config(settings),
        openapi_config=openapi_config(),
        request_max_body_size=settings.http.max_body_bytes,
        state=_state(built),
        debug=False,
    )
    # Outside the router, so unrouted requests (404, 405) carry the correlation id too, and
    # HEAD reaches the GET handlers.
    app.asgi_handler = HeadAsGet(CorrelationMiddleware(app.asgi_handler))
    return app


def _state(services: Services) -> Any:
    from litestar.datastructures import State

    return State({"services": services})
