"""The service objects one gateway process runs with, built once by the composition root and
handed to controllers and the worker. Holds no per-request state."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from app.auth.keys import SigningKeys
from app.auth.tokens import TokenIssuer, TokenVerifier
from app.cache.reads import CachedReads
from app.catalog.service import CatalogService
from app.crypto import SecretBox
from app.customers.service import CustomerService
from app.idempotency import IdempotencyStore
from app.inventory.levels import InventoryService
from app.inventory.reservations import StockLedger
from app.inventory.rules import AvailabilityRules, InventoryFigures
from app.orders.cancel import OrderCancellation
from app.orders.dead_letters import DeadLetters
from app.orders.intake import OrderIntake
from app.orders.queries import OrderQueries
from app.orders.worker import OutboxWorker
from app.paging import CursorCodec
from app.quotas.service import QuotaService
from app.settings import Settings
from app.shield.service import ShieldRegistry
from app.store.database import Database
from app.tenancy.bindings import BackendResolver, BindingStore
from app.tenancy.migration import MigrationService
from app.tenancy.registry import AdapterRegistry
from app.tenancy.shadow import ShadowReads
from app.tenancy.tenants import TenantDirectory


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    box: SecretBox
    keys: SigningKeys
    issuer: TokenIssuer
    verifier: TokenVerifier
    registry: AdapterRegistry
    bindings: BindingStore
    backends: BackendResolver
    cursors: CursorCodec
    tenants: TenantDirectory
    idempotency: IdempotencyStore
    catalog: CatalogService
    inventory: InventoryService
    availability_rules: AvailabilityRules
    inventory_figures: InventoryFigures
    ledger: StockLedger
    customers: CustomerService
    intake: OrderIntake
    orders: OrderQueries
    worker: OutboxWorker
    cancellation: OrderCancellation
    dead_letters: DeadLetters
    migrations: MigrationService
    shadow: ShadowReads
    quotas: QuotaService
    shields: ShieldRegistry
    cache: CachedReads
    redis: Redis | None
