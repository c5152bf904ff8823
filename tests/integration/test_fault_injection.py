"""Faults between a channel's order and the ERP, and not one order lost or doubled.

Each scenario runs the real parts: a private PostgreSQL cluster the test starts (and restarts),
the Odoo simulator as a process, our TCP fault proxy between the gateway and the simulator,
the gateway taking orders (in-process, on that database) and `gateway worker` processes
posting them. A placer sends orders (a few of them "poison": a product the ERP refuses to
sell) and retries, with the same Idempotency-Key, whatever it is told to retry. Then the
backend's sale orders are reconciled against ours, and one line says what came of it:

    attempted N, accepted N, lost 0, duplicated in backend 0, rejected 3, dead-lettered 0

"lost": accepted by us, neither in the backend nor rejected. "duplicated in backend": more than
one live sale order for one of our orders. Both must be 0, as must dead letters (no fault here
is one a retry does not fix); every poison order must end `rejected`, with no sale left behind.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters._demo import demo_dataset
from adapters.odoo.client import OdooClient
from app.settings import WorkerSettings
from app.store.models import OrderEventRow, OrderRow, OutboxEntry
from tests.support import payloads
from tests.support.fault_proxy import FaultProxy
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.odoo import Simulator, odoo_simulator
from tests.support.private_pg import PrivatePostgres, private_postgres
from tests.support.reports import report

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
TENANT, CLIENT = "faults", "faults-client"
ORDERS = int(os.environ.get("FAULT_ORDERS", "120"))
POISON = 3
LEASE_SECONDS = 3
SETTLE_TIMEOUT = 120.0
# A product the ERP has but will not sell (sale_ok unset): it passes intake, Odoo refuses it.
POISON_SKU = next(
    product.variants[0].sku for product in demo_dataset().products if product.status == "draft"
)
# Generous for the backend (the proxy's faults are the test), quick to notice a dead call.
SHIELD = {"rate": 1000, "burst": 200, "concurrency": 16, "timeout": 2.0, "cooldown": 0.5}


@dataclass
class Rig:
    pg: PrivatePostgres
    odoo: Simulator
    proxy: FaultProxy
    gw: Gateway
    secret_key: str
    logs: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn_worker(self) -> subprocess.Popen[bytes]:
        """A `gateway worker` process on the private database."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "REDIS"))}
        env.update(
            PYTHONPATH=str(ROOT),
            DATABASE_URL=self.pg.url,
            DATABASE_POOL_SIZE="3",
            GATEWAY_SECRET_KEY=self.secret_key,
            GATEWAY_VAR_DIR=str(self.logs / "var"),
            GATEWAY_DEMO="0",
            GATEWAY_WORKER_POLL_INTERVAL="0.05",
            GATEWAY_WORKER_BATCH_SIZE="5",
            GATEWAY_WORKER_LEASE_SECONDS=str(LEASE_SECONDS),
            GATEWAY_WORKER_MAX_ATTEMPTS="1000",
            GATEWAY_WORKER_BACKOFF_BASE="0.1",
            GATEWAY_WORKER_BACKOFF_MAX="1",
            GATEWAY_FEED_INTERVAL="3600",
        )
        log = (self.logs / f"worker-{len(self.workers)}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.workers.append(process)
        return process

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                with suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGCONT)  # a stopped one must hear the TERM
                process.terminate()
        for process in self.workers:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def direct(self) -> OdooClient:
        """The simulator itself, not through the proxy: what the ERP really holds."""
        return OdooClient(self.odoo.url, "demo", "admin", "admin")

    async def creates(self) -> int:
        stats = await self.odoo.control("GET", "stats")
        assert isinstance(stats, dict)
        return int(stats["calls"].get("sale.order.create", 0))


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    secret_key = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    async with (
        private_postgres() as pg,
        odoo_simulator() as odoo,
        FaultProxy("127.0.0.1", odoo.port) as proxy,
    ):
        settings = make_settings(
            pg.url,
            tmp_path / "var",
            secret_key=secret_key,
            idempotency_lock=2,
            worker=WorkerSettings(embedded=False),
        )
        async with running_gateway(settings) as gw:
            await gw.add_tenant(TENANT)
            await gw.add_client("operator", None)
            binding, secrets = odoo.binding()
            bound = await gw.http.put(
                f"/admin/tenants/{TENANT}/bindings",
                json={
                    "adapter": "odoo",
                    "settings": {**binding, "url": proxy.url, "shield": SHIELD},
                    "secrets": secrets,
                },
                headers=await gw.headers("operator"),
            )
            assert bound.status_code == 200, bound.text
            await gw.token(CLIENT)  # before any fault: the placer is already signed in
            rig = Rig(pg, odoo, proxy, gw, secret_key, tmp_path)
            try:
                yield rig
            finally:
                proxy.clear()
                rig.stop_workers()


# -- placing orders -------------------------------------------------------------------------


@dataclass
class Placement:
    attempted: int = 0
    requests: int = 0
    accepted: dict[str, bool] = field(default_factory=dict)  # order id -> poison?
    answers: Counter[int] = field(default_factory=Counter)


async def place(
    rig: Rig, placement: Placement, count: int, *, poison: int = 0, pace: float = 0.0
) -> None:
    """Place `count` orders (the first `poison` of them poison, spread over the run), 8 at a
    time, each retried under its own key until the gateway has it."""
    kinds = [True] * poison + [False] * (count - poison)
    random.Random(7).shuffle(kinds)
    gate = asyncio.Semaphore(8)

    async def one(is_poison: bool) -> None:
        body = payloads.order()
        if is_poison:
            body["lines"][0]["sku"] = POISON_SKU
        key = payloads.idem()
        async with gate:
            placement.attempted += 1
            deadline = time.monotonic() + 60
            while True:
                placement.requests += 1
                response = await rig.gw.http.post(
                    "/v1/orders",
                    json=body,
                    headers=await rig.gw.headers(CLIENT, **{"Idempotency-Key": key}),
                )
                placement.answers[response.status_code] += 1
                if response.status_code == 202:
                    placement.accepted[str(response.json()["id"])] = is_poison
                    return
                # What a client is told to retry: the database is away (503), or the first
                # attempt under this key still holds it (409 in flight). Nothing else.
                problem = response.json()
                retryable = response.status_code == 503 or (
                    response.status_code == 409
                    and problem.get("type", "").endswith("idempotency-in-flight")
                )
                assert retryable, (response.status_code, problem)
                assert "retry-after" in response.headers, response.headers
                assert time.monotonic() < deadline, "the gateway did not take the order in 60 s"
                await asyncio.sleep(min(1.0, float(response.headers["retry-after"])))

    tasks = []
    for is_poison in kinds:
        tasks.append(asyncio.create_task(one(is_poison)))
        if pace:
            await asyncio.sleep(pace)
    await asyncio.gather(*tasks)


# -- reconciling ------------------------------------------------------------------------------


async def _ours(rig: Rig) -> dict[str, tuple[str, bool]]:
    async with rig.gw.services.db.engine.connect() as conn:
        rows = await conn.execute(
            select(OrderRow.id, OrderRow.status, OrderRow.dead_lettered).where(
                OrderRow.tenant_id == TENANT
            )
        )
        return {row.id: (row.status, row.dead_lettered) for row in rows}


async def _pending(rig: Rig) -> int:
    async with rig.gw.services.db.engine.connect() as conn:
        rows = await conn.execute(
            select(OutboxEntry.id).where(
                OutboxEntry.tenant_id == TENANT, OutboxEntry.state == "pending"
            )
        )
        return len(rows.all())


async def _histories(rig: Rig, order_ids: list[str]) -> dict[str, list[str]]:
    """What happened to these orders, event by event: the evidence when one went astray."""
    async with rig.gw.services.db.engine.connect() as conn:
        rows = await conn.execute(
            select(OrderEventRow)
            .where(OrderEventRow.order_id.in_(order_ids))
            .order_by(OrderEventRow.order_id, OrderEventRow.sequence)
        )
        histories: dict[str, list[str]] = {}
        for row in rows:
            histories.setdefault(row.order_id, []).append(
                f"{row.type} {row.previous_status}->{row.status} {row.cause} {row.detail}"
            )
        return histories


async def _attempts(rig: Rig) -> int:
    """Delivery attempts beyond the first, over every outbox entry of the tenant."""
    async with rig.gw.services.db.engine.connect() as conn:
        rows = await conn.execute(
            select(OutboxEntry.attempts).where(OutboxEntry.tenant_id == TENANT)
        )
        return sum(max(0, attempts - 1) for (attempts,) in rows)


async def settle(rig: Rig, placement: Placement) -> None:
    """Wait until every accepted order is delivered, rejected or dead-lettered."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        ours = await _ours(rig)
        open_ = [
            order_id
            for order_id in placement.accepted
            if ours.get(order_id, ("?", False))[0] == "received"
            and not ours.get(order_id, ("?", False))[1]
        ]
        if not open_ and await _pending(rig) == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{len(open_)} orders still undelivered after {SETTLE_TIMEOUT} s "
                f"(worker logs in {rig.logs})"
            )
        await asyncio.sleep(0.2)


async def _sale_refs(client: OdooClient) -> set[str]:
    """Our order ids that Odoo holds a sale for, whatever its state."""
    rows = await client.search_read(
        "sale.order", [["client_order_ref", "=like", "ord_%"]], ["client_order_ref"]
    )
    return {row["client_order_ref"] for row in rows}


async def backend_orders(rig: Rig) -> list[dict[str, Any]]:
    client = rig.direct()
    try:
        return await client.search_read(
            "sale.order", [["client_order_ref", "=like", "ord_%"]], ["client_order_ref", "state"]
        )
    finally:
        await client.aclose()


async def reconcile(rig: Rig, placement: Placement, scenario: str, faults: str) -> None:
    ours = await _ours(rig)
    sales = await backend_orders(rig)
    live = Counter(row["client_order_ref"] for row in sales if row["state"] != "cancel")
    discarded = sum(1 for row in sales if row["state"] == "cancel")
    poison_ids = {order_id for order_id, is_poison in placement.accepted.items() if is_poison}
    lost = [
        order_id
        for order_id in placement.accepted
        if live[order_id] == 0 and ours.get(order_id, ("?", False))[0] != "rejected"
    ]
    duplicated = [ref for ref, count in live.items() if count > 1]
    unknown = [ref for ref in live if ref not in ours]
    rejected = {order_id for order_id, (status, _) in ours.items() if status == "rejected"}
    dead = [order_id for order_id, (_, dead) in ours.items() if dead]
    report(
        "fault injection",
        f"{scenario}: attempted {placement.attempted}, accepted {len(placement.accepted)}, "
        f"lost {len(lost)}, duplicated in backend {len(duplicated)}, "
        f"rejected {len(rejected)}, dead-lettered {len(dead)} "
        f"[{placement.requests} requests {dict(sorted(placement.answers.items()))}; "
        f"{faults}; {await _attempts(rig)} delivery retries, {discarded} discarded drafts]",
    )
    normal = set(placement.accepted) - poison_ids
    astray = sorted(
        set(lost + duplicated + unknown + dead)
        | (rejected ^ poison_ids)
        | {order_id for order_id in poison_ids if live[order_id]}
        | {order_id for order_id in normal if ours[order_id][0] != "accepted"}
        | {order_id for order_id in normal if live[order_id] != 1}
    )
    evidence = {
        "ours": {order_id: ours.get(order_id) for order_id in astray},
        "backend": [row for row in sales if row["client_order_ref"] in astray],
        "events": await _histories(rig, astray),
        "worker logs": str(rig.logs),
    }
    assert placement.attempted == len(placement.accepted) == len(ours)
    assert astray == [], evidence


async def _with_placing(
    rig: Rig, placement: Placement, faults: Callable[[], Awaitable[str]], *, pace: float
) -> str:
    """Place orders while `faults` runs; returns its description of what it did."""
    placing = asyncio.create_task(place(rig, placement, ORDERS, poison=POISON, pace=pace))
    try:
        done = await faults()
    finally:
        await placing
    return done


# -- the scenarios ----------------------------------------------------------------------------


async def test_network_faults_between_worker_and_backend(rig: Rig) -> None:
    rig.spawn_worker()
    rig.spawn_worker()
    proxy = rig.proxy
    placement = Placement()

    async def faults() -> str:
        await asyncio.sleep(0.5)
        proxy.set_latency(0.15)  # a slow link: every chunk late, both ways
        await asyncio.sleep(2)
        proxy.set_latency(0)
        proxy.drop_next(15)  # connections closed before the request reaches Odoo
        await asyncio.sleep(1.5)
        proxy.reset(True)  # every connection in use is torn down with a RST, mid-call
        await asyncio.sleep(0.7)
        deadline = time.monotonic() + 15  # on a slow run, until a call has been torn down
        while not proxy.counters.reset and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        proxy.reset(False)
        await asyncio.sleep(1)
        proxy.blackhole(True)  # nothing answers: calls time out (shield timeout 2 s)
        await asyncio.sleep(3)
        proxy.clear()
        counters = proxy.counters
        return (
            f"latency 150 ms, dropped {counters.dropped}, reset {counters.reset}, "
            f"blackholed {counters.blackholed} bytes"
        )

    done = await _with_placing(rig, placement, faults, pace=0.06)
    await settle(rig, placement)
    assert proxy.counters.dropped and proxy.counters.reset and proxy.counters.blackholed
    await reconcile(rig, placement, "network faults", done)


async def test_a_worker_killed_between_the_backends_ack_and_our_commit(rig: Rig) -> None:
    placement = Placement()
    await place(rig, placement, ORDERS, poison=POISON)  # all in the outbox; no worker yet
    proxy = rig.proxy
    kills, orphans = 3, set[str]()
    direct = rig.direct()
    try:
        for _ in range(kills):
            # Answers come back late, so the window between Odoo creating the sale and the
            # worker hearing of it is wide; the moment Odoo holds a new sale of ours (a poison
            # order's create is refused and leaves none), hold the answers and kill.
            proxy.set_latency(0.3, "downstream")
            seen = await _sale_refs(direct)
            worker = rig.spawn_worker()
            deadline = time.monotonic() + 30
            while not (new := await _sale_refs(direct) - seen):
                assert time.monotonic() < deadline, "the worker created no sale"
                assert worker.poll() is None, f"the worker exited (logs in {rig.logs})"
                await asyncio.sleep(0.01)
            proxy.hold_responses()
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
            # Odoo holds a sale we never heard back about: our order is still waiting to go.
            ours = await _ours(rig)
            stranded = [oid for oid in new if ours.get(oid, ("?", False))[0] == "received"]
            assert stranded, ("the kill did not land between the ack and our commit", new, ours)
            orphans.update(stranded)
            proxy.clear()  # the held answers go to a dead process's sockets: lost
    finally:
        await direct.aclose()
    rig.spawn_worker()  # takes over once the dead workers' leases lapse
    await settle(rig, placement)
    await reconcile(
        rig,
        placement,
        "worker killed -9 after the ERP's ack",
        f"{kills} kills, {len(orphans)} sales created in Odoo unacknowledged",
    )


async def test_a_worker_stopped_past_its_lease(rig: Rig) -> None:
    placement = Placement()
    await place(rig, placement, ORDERS, poison=POISON)
    proxy = rig.proxy
    proxy.set_latency(0.1, "downstream")  # deliveries take a while: stop one mid-batch
    sleeper = rig.spawn_worker()
    before = await rig.creates()
    deadline = time.monotonic() + 30
    while await rig.creates() == before:
        assert time.monotonic() < deadline, "the worker created no sale"
        await asyncio.sleep(0.01)
    os.kill(sleeper.pid, signal.SIGSTOP)  # frozen mid-call, its lease running out
    rig.spawn_worker()
    await asyncio.sleep(LEASE_SECONDS + 2)  # the second worker takes the frozen one's batch
    proxy.set_latency(0)
    os.kill(sleeper.pid, signal.SIGCONT)  # ... and the first wakes up and carries on
    await settle(rig, placement)
    assert sleeper.poll() is None
    await reconcile(
        rig, placement, "worker stopped past its lease", f"SIGSTOP {LEASE_SECONDS + 2} s"
    )


async def test_the_database_restarts_under_intake_and_delivery(rig: Rig) -> None:
    rig.spawn_worker()
    rig.spawn_worker()
    placement = Placement()

    async def faults() -> str:
        await asyncio.sleep(1)
        await rig.pg.restart("fast")  # a clean restart: every connection cut
        await asyncio.sleep(1.5)
        await rig.pg.stop("immediate")  # a crash: down for a while, then recovery
        await asyncio.sleep(2)
        await rig.pg.start()
        return "restart (fast), then crash (immediate) and 2 s down"

    done = await _with_placing(rig, placement, faults, pace=0.05)
    await settle(rig, placement)
    assert placement.answers[503], "no request met the database away"
    await reconcile(rig, placement, "PostgreSQL restarts", done)


async def test_the_backend_down_for_a_while(rig: Rig) -> None:
    rig.spawn_worker()
    rig.spawn_worker()
    placement = Placement()

    async def faults() -> str:
        await asyncio.sleep(1)
        await rig.proxy.stop()  # nothing listens: connections refused
        await asyncio.sleep(3)
        await rig.proxy.start()
        # Odoo up but answering 503 + Retry-After (a maintenance page), then itself again.
        await rig.odoo.control("POST", "faults", {"down": {"mode": "503", "seconds": 2}})
        await asyncio.sleep(2.5)
        return "refused 3 s, then 503 + Retry-After 2 s"

    done = await _with_placing(rig, placement, faults, pace=0.05)
    await settle(rig, placement)
    await reconcile(rig, placement, "backend down", done)


async def test_no_faults_the_control(rig: Rig) -> None:
    """The control: no faults at all, the same reconciliation (the poison orders included)."""
    rig.spawn_worker()
    placement = Placement()
    await place(rig, placement, ORDERS, poison=POISON)
    await settle(rig, placement)
    assert placement.requests == placement.attempted  # no retries were needed
    await reconcile(rig, placement, "no faults (control)", "none")
