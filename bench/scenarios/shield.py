"""The shield under overload: two gateway processes and two outbox workers in front of the Odoo
simulator, whose budget is known; browsing offered far beyond it while orders keep coming.
The backend must see no more than its rate (within 5 %), checkout must keep getting through."""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from typing import Any

import httpx

from adapters._demo import demo_dataset
from app.publicids import CUSTOMER, PRODUCT, public_id
from bench import load
from bench.procs import Stack, odoo_tenant
from bench.report import Row

DEMO = demo_dataset()
# Products the backend sells (a draft one would be refused: a rejection, not a shield refusal).
SELLABLE = [product for product in DEMO.products if product.status == "active"][:50]
RATE = 50
BURST = 10


def overload(stack: Stack, database_url: str, seconds: float) -> list[Row]:
    simulator = stack.simulator("odoo-shield")
    env = {"GATEWAY_CACHE_FRESHNESS": json.dumps({"catalog": [0, 0, 0]})}
    first = stack.gateway("gw-shield-1", database_url, workers=1, env=env, var="shield")
    second = stack.gateway("gw-shield-2", database_url, workers=1, env=env, var="shield")
    stack.worker("worker-1", database_url)
    stack.worker("worker-2", database_url)
    shield = {"rate": RATE, "burst": BURST, "concurrency": 16, "reserve": 2, "browse_wait": 0.2}
    token = odoo_tenant(first, stack, simulator, "bench-shield", shield=shield, var="shield")
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/v1/products/{public_id(PRODUCT, DEMO.products[5].code)}"
    # What one read costs the backend (every read is a miss here), to state the overload in
    # backend requests rather than guess it.
    httpx.post(simulator.url + "/_sim/reset")
    for _ in range(3):
        httpx.get(first.url + path, headers=headers, timeout=30).raise_for_status()
    per_read = httpx.get(simulator.url + "/_sim/stats").json()["requests"] / 3
    httpx.post(simulator.url + "/_sim/reset")

    placed: list[str] = []
    attempted = [0]
    started = time.time()
    stop = threading.Event()

    def place_orders() -> None:
        with httpx.Client(timeout=30) as client:
            index = 0
            while not stop.is_set():
                gateway = (first, second)[index % 2]
                body = _order(index)
                attempted[0] += 1
                response = client.post(
                    gateway.url + "/v1/orders",
                    json=body,
                    headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                )
                if response.status_code == 202:
                    placed.append(response.json()["id"])
                index += 1
                time.sleep(1 / 3)  # three orders a second: some 24 backend requests a second

    placer = threading.Thread(target=place_orders)
    placer.start()
    results: dict[str, load.Result] = {}

    def browse(name: str, url: str) -> None:
        results[name] = load.run(url + path, connections=48, seconds=seconds, headers=headers)

    browsers = [
        threading.Thread(target=browse, args=(proc.name, proc.url)) for proc in (first, second)
    ]
    for thread in browsers:
        thread.start()
    for thread in browsers:
        thread.join()
    stop.set()
    placer.join()
    ended = time.time()
    posted = _wait_posted(first.url, headers, placed, timeout=60)
    stats: Any = httpx.get(simulator.url + "/_sim/stats").json()
    window = {
        int(k): v for k, v in stats["per_second"].items() if started + 1 <= int(k) < ended - 1
    }
    mean = statistics.mean(window.values()) if window else 0.0
    busiest = max(window.values()) if window else 0
    offered = sum(r.requests for r in results.values())
    refused = sum(r.errors for r in results.values())
    for proc in (first, second):
        proc.stop()
    simulator.stop()
    return [
        Row(
            f"shield: backend rate, 2 gateways + 2 workers, {seconds:.0f} s overload",
            f"mean {mean:.1f} req/s, busiest second {busiest}",
            f"configured {RATE} req/s (burst {BURST})",
            f"ratio {mean / RATE:.3f}",
            "<= 1.05",
            mean <= RATE * 1.05 and busiest <= RATE * 1.05 + BURST,
        ),
        Row(
            "shield: browsing offered vs shed",
            f"{offered / seconds:,.0f} reads/s offered, {per_read:.1f} backend requests each"
            f" ({offered * per_read / seconds / RATE:.0f}x budget)",
            f"{refused:,} of {offered:,} refused",
            f"shed {refused / max(1, offered):.0%}",
            "(reported)",
        ),
        Row(
            "shield: checkout (orders taken and posted by the workers)",
            f"{len(placed)} of {attempted[0]} taken (202), {len(posted)} posted",
            "orders attempted during the overload",
            f"success {len(posted) / max(1, attempted[0]):.0%}",
            ">= 95%",
            attempted[0] > 0 and len(posted) >= 0.95 * attempted[0],
        ),
    ]


def _order(index: int) -> dict[str, Any]:
    return {
        "channel": "web",
        "external_reference": f"SHIELD-{uuid.uuid4().hex[:12]}",
        "customer": {"id": public_id(CUSTOMER, DEMO.customers[index % 20].code)},
        "lines": [
            {
                "sku": SELLABLE[index % len(SELLABLE)].variants[0].sku,
                "quantity": 1,
                "unit_price": {"amount": "10.00", "currency": "EUR"},
            }
        ],
        "shipping_address": {
            "first_name": "Ana",
            "last_name": "Smit",
            "line1": "Damstraat 1",
            "city": "Amsterdam",
            "postal_code": "1012 AB",
            "country": "NL",
        },
        "placed_at": "2026-11-28T10:00:00Z",
    }


def _wait_posted(
    url: str, headers: dict[str, str], order_ids: list[str], timeout: float
) -> list[str]:
    deadline = time.monotonic() + timeout
    pending = set(order_ids)
    posted: list[str] = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        while pending and time.monotonic() < deadline:
            for order_id in list(pending):
                body = client.get(f"/v1/orders/{order_id}").json()
                if body.get("status") in {"accepted", "submitted"}:
                    pending.discard(order_id)
                    posted.append(order_id)
            time.sleep(0.5)
    return posted
