"""Availability of one SKU differs per channel exactly as the tenant's rules say, through the
API: random stock (in the sandbox backend), random rules for every channel (admin API) and
random reservations, then `GET /v1/availability` for each channel compared with the formula
computed here from the issue's wording. Hypothesis drives it; the gateway runs in an event
loop of its own thread so each example can call it synchronously."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import payloads
from tests.support.gateway import Gateway, make_settings, running_gateway
from tests.support.stock import set_stock

pytestmark = pytest.mark.slow
T = TypeVar("T")
TENANT, CLIENT = "rules", "rules-client"
SKU = payloads.SKU_A
LOCATIONS = ("DC1", "ST-AMS", "ST-UTR")
CHANNELS = ("web", "app", "store", "marketplace")


class LoopThread:
    """An event loop running in a thread; `run` waits for a coroutine's result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LoopThread, Gateway]]:
    base: Path = tmp_path_factory.mktemp("rules")
    runner = LoopThread()
    context = running_gateway(make_settings(f"sqlite+aiosqlite:///{base / 'gw.db'}", base / "v"))
    gw = runner.run(context.__aenter__())
    try:
        runner.run(gw.add_tenant(TENANT))
        runner.run(gw.add_client("operator", None))
        yield runner, gw
    finally:
        runner.run(context.__aexit__(None, None, None))
        runner.close()


levels = st.fixed_dictionaries(
    {
        location: st.tuples(st.integers(0, 60), st.integers(0, 10), st.integers(0, 5))
        for location in LOCATIONS
    }
)
rule = st.one_of(
    st.none(),  # no rule: the channel sees everything
    st.fixed_dictionaries(
        {
            "allocation_share": st.integers(0, 100).map(lambda percent: percent / 100),
            "reserve_threshold": st.integers(0, 20),
            "safety_stock": st.integers(0, 20),
            "excluded_locations": st.lists(st.sampled_from(LOCATIONS), unique=True),
        }
    ),
)
reservation = st.tuples(st.integers(1, 15), st.sampled_from((None, *LOCATIONS)))


def expected(
    stock: dict[str, tuple[int, int, int]],
    rule: dict[str, Any] | None,
    held: dict[str | None, int],
) -> int:
    rule = rule or {
        "allocation_share": 1,
        "reserve_threshold": 0,
        "safety_stock": 0,
        "excluded_locations": [],
    }
    free = 0
    for location, (on_hand, reserved, safety) in stock.items():
        if location not in rule["excluded_locations"]:
            free += max(0, on_hand - reserved - safety - held.get(location, 0))
    pool = max(0, free - held.get(None, 0) - rule["safety_stock"])
    shown = int(Fraction(pool) * Fraction(str(rule["allocation_share"])))
    return 0 if shown < rule["reserve_threshold"] else shown


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    stock=levels,
    rules=st.fixed_dictionaries(dict.fromkeys(CHANNELS, rule)),
    reservations=st.lists(reservation, max_size=4),
)
def test_each_channel_sees_what_its_rule_says(
    rig: tuple[LoopThread, Gateway],
    stock: dict[str, tuple[int, int, int]],
    rules: dict[str, dict[str, Any] | None],
    reservations: list[tuple[int, str | None]],
) -> None:
    runner, gw = rig
    runner.run(_check(gw, stock, rules, reservations))


async def _check(
    gw: Gateway,
    stock: dict[str, tuple[int, int, int]],
    rules: dict[str, dict[str, Any] | None],
    reservations: list[tuple[int, str | None]],
) -> None:
    operator, channel_client = await gw.headers("operator"), await gw.headers(CLIENT)
    await set_stock(gw, TENANT, SKU, stock)
    for channel, body in rules.items():
        path = f"/admin/tenants/{TENANT}/availability-rules/{channel}"
        if body is None:
            response = await gw.http.delete(path, headers=operator)
            assert response.status_code in {204, 404}, response.text
        else:
            response = await gw.http.put(path, json=body, headers=operator)
            assert response.status_code == 200, response.text
    held: dict[str | None, int] = {}
    made: list[str] = []
    for quantity, location in reservations:  # reservations through the "web" channel's rule
        response = await gw.http.post(
            "/v1/inventory/reservations",
            json={
                "lines": [{"sku": SKU, "quantity": quantity, "location_id": location}],
                "channel": "web",
            },
            headers={**channel_client, "Idempotency-Key": payloads.idem()},
        )
        assert response.status_code in {201, 409}, response.text
        if response.status_code == 201:
            held[location] = held.get(location, 0) + quantity
            made.append(response.json()["id"])
    try:
        for channel in CHANNELS:
            response = await gw.http.get(
                "/v1/availability", params={"sku": SKU, "channel": channel}, headers=channel_client
            )
            assert response.status_code == 200, response.text
            [answer] = response.json()["data"]
            assert answer["available"] == expected(stock, rules[channel], held), (channel, answer)
    finally:
        for reservation_id in made:  # the next example starts with nothing held
            await gw.http.delete(
                f"/v1/inventory/reservations/{reservation_id}", headers=channel_client
            )
