"""Availability to promise and reservations through the API: what a channel is shown, stock
held at checkout until it is released, expires or an order consumes it, refusals with what is
short, idempotent creates, orders taken beyond the stock (oversold), channel rules, tenant
isolation, scopes, and bad input that gets a 4xx problem and holds nothing.

The gateway is shared by the whole session, so each test sets the stock of a SKU of its own
(`stock`), and compares counters and figures before and after rather than with constants.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from adapters._demo import demo_dataset
from tests.support import payloads
from tests.support.gateway import Gateway
from tests.support.stock import set_stock

CLIENT = "acme-client"
OTHER_TENANT_CLIENT = "globex-client"
OPERATOR = "operator"
PROBLEM = "application/problem+json"
RESERVATIONS = "/v1/inventory/reservations"
RULES = "/admin/tenants/acme/availability-rules"
FIGURES = "/admin/tenants/acme/inventory-figures"
PRICE = {"amount": "59.95", "currency": "EUR"}

DEMO = demo_dataset()
DEMO_LOCATIONS: dict[str, set[str]] = {}
for _row in DEMO.stock:
    DEMO_LOCATIONS.setdefault(_row.sku, set()).add(_row.location)

# SKUs of products no other test reads or orders, each stocked at DC1, ST-AMS and ST-UTR in
# the demo data; every test below takes its own.
POOL = [
    variant.sku
    for product in DEMO.products[43:61]
    for variant in product.variants
    if DEMO_LOCATIONS.get(variant.sku) == {"DC1", "ST-AMS", "ST-UTR"}
]
SKU_RELEASE = POOL[0]
SKU_SHORT, SKU_SHORT_OK = POOL[1], POOL[2]
SKU_AT_LOCATION = POOL[3]
SKU_IDEMPOTENT = POOL[4]
SKU_EXPIRY = POOL[5]
SKU_CONSUMED = POOL[6]
SKU_UNUSABLE = dict(
    zip(["expired", "released", "consumed", "unknown", "other-channel"], POOL[7:12], strict=True)
)
SKU_OVERSOLD = POOL[12]
SKU_RULES = POOL[13]
SKU_CHANNEL_LIMIT = POOL[14]
SKU_ISOLATION = POOL[15]
SKU_SCOPE = POOL[16]

SKU_BAD_INPUT = POOL[17]
SKU_MISSING_KEY = POOL[18]
SKU_TWO_LOCATIONS = POOL[19]
SKU_READ_ONLY = POOL[20]
SKU_REFUSED_REPLAY = POOL[21]


# --- helpers -------------------------------------------------------------------------------


async def stock(
    gateway: Gateway,
    sku: str,
    levels: dict[str, tuple[int, int, int]],
    tenant: str = "acme",
) -> None:
    """Set the SKU's stock; its other demo locations get (0, 0, 0), so the SKU keeps the
    locations the demo data gives it (inventory listing tests compare with those)."""
    assert set(levels) <= DEMO_LOCATIONS[sku], (sku, levels)
    full = dict.fromkeys(DEMO_LOCATIONS[sku], (0, 0, 0)) | levels
    await set_stock(gateway, tenant, sku, full)


def assert_problem(
    response: httpx.Response, status: int, *, slug: str | None = None, field: str | None = None
) -> dict[str, Any]:
    """An RFC 9457 problem with `status`; `slug` ends its type; `field` is named in errors[]."""
    assert response.status_code == status, (
        f"expected {status}, got {response.status_code}: {response.text}"
    )
    assert response.headers["content-type"].startswith(PROBLEM), response.headers.get(
        "content-type"
    )
    assert "Traceback" not in response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    assert body["detail"]
    assert body["correlation_id"] == response.headers["x-correlation-id"]
    if slug is not None:
        assert body["type"].endswith("/" + slug), body["type"]
    if field is not None:
        named = [e for e in body.get("errors") or [] if e["field"] == field]
        assert named, f"errors[] does not name `{field}`: {body}"
        assert named[0]["message"]
    return body


def line(sku: str, quantity: int, location_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"sku": sku, "quantity": quantity}
    if location_id is not None:
        out["location_id"] = location_id
    return out


async def post_reservation(
    gateway: Gateway,
    body: dict[str, Any],
    *,
    key: str | None = "",
    client: str = CLIENT,
) -> httpx.Response:
    """POST a reservation; `key` "" means a fresh Idempotency-Key, None means none."""
    extra = {} if key is None else {"Idempotency-Key": key or payloads.idem()}
    return await gateway.http.post(
        RESERVATIONS, json=body, headers=await gateway.headers(client, **extra)
    )


async def reserve(
    gateway: Gateway,
    *lines: dict[str, Any],
    channel: str = "web",
    ttl_seconds: int | None = None,
    client: str = CLIENT,
) -> dict[str, Any]:
    """Create a reservation that must succeed; returns it."""
    body: dict[str, Any] = {"lines": list(lines), "channel": channel}
    if ttl_seconds is not None:
        body["ttl_seconds"] = ttl_seconds
    response = await post_reservation(gateway, body, client=client)
    assert response.status_code == 201, response.text
    reservation: dict[str, Any] = response.json()
    return reservation


async def get_reservation(
    gateway: Gateway, reservation_id: str, client: str = CLIENT
) -> httpx.Response:
    return await gateway.http.get(
        f"{RESERVATIONS}/{reservation_id}", headers=await gateway.headers(client)
    )


async def release(gateway: Gateway, reservation_id: str, client: str = CLIENT) -> httpx.Response:
    return await gateway.http.delete(
        f"{RESERVATIONS}/{reservation_id}", headers=await gateway.headers(client)
    )


async def status_of(gateway: Gateway, reservation_id: str) -> str:
    response = await get_reservation(gateway, reservation_id)
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


async def availability(
    gateway: Gateway, sku: str, channel: str = "web", client: str = CLIENT
) -> dict[str, Any]:
    response = await gateway.http.get(
        "/v1/availability",
        params={"sku": sku, "channel": channel},
        headers=await gateway.headers(client),
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [entry["sku"] for entry in data] == [sku]
    entry: dict[str, Any] = data[0]
    return entry


async def available(gateway: Gateway, sku: str, channel: str = "web", client: str = CLIENT) -> int:
    return int((await availability(gateway, sku, channel, client))["available"])


def order_body(
    sku: str, quantity: int, *, reservation_id: str | None = None, channel: str = "web"
) -> dict[str, Any]:
    body = payloads.order(
        channel=channel, lines=[{"sku": sku, "quantity": quantity, "unit_price": PRICE}]
    )
    if reservation_id is not None:
        body["reservation_id"] = reservation_id
    return body


async def post_order(
    gateway: Gateway, body: dict[str, Any], client: str = CLIENT
) -> httpx.Response:
    return await gateway.http.post(
        "/v1/orders",
        json=body,
        headers=await gateway.headers(client, **{"Idempotency-Key": payloads.idem()}),
    )


async def orders_with_reference(
    gateway: Gateway, reference: str, client: str = CLIENT
) -> list[dict[str, Any]]:
    response = await gateway.http.get(
        "/v1/orders",
        params={"external_reference": reference},
        headers=await gateway.headers(client),
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def order_events(gateway: Gateway, order_id: str) -> list[dict[str, Any]]:
    response = await gateway.http.get(
        f"/v1/orders/{order_id}/events", headers=await gateway.headers(CLIENT)
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["data"]
    return events


async def figures(gateway: Gateway, channel: str) -> dict[str, int]:
    response = await gateway.http.get(FIGURES, headers=await gateway.headers(OPERATOR))
    assert response.status_code == 200, response.text
    rows = {row["channel"]: row for row in response.json()["data"]}
    counts: dict[str, int] = {k: v for k, v in rows[channel].items() if k != "channel"}
    return counts


async def put_rule(gateway: Gateway, channel: str, rule: dict[str, Any]) -> httpx.Response:
    return await gateway.http.put(
        f"{RULES}/{channel}", json=rule, headers=await gateway.headers(OPERATOR)
    )


async def delete_rule(gateway: Gateway, channel: str) -> httpx.Response:
    return await gateway.http.delete(f"{RULES}/{channel}", headers=await gateway.headers(OPERATOR))


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, value
    return parsed


# --- reserving and releasing ----------------------------------------------------------------


async def test_a_reservation_holds_stock_until_it_is_released(gateway: Gateway) -> None:
    sku = SKU_RELEASE
    await stock(gateway, sku, {"DC1": (10, 0, 0), "ST-AMS": (2, 0, 0)})
    before = await availability(gateway, sku)
    assert before["channel"] == "web"
    assert before["available"] == 12
    assert before["locations"] == [
        {"location_id": "DC1", "available": 10},
        {"location_id": "ST-AMS", "available": 2},
        {"location_id": "ST-UTR", "available": 0},
    ]
    assert before["as_of"] is not None
    parse_time(before["as_of"])

    response = await post_reservation(
        gateway, {"lines": [line(sku, 3)], "channel": "web"}, key=payloads.idem()
    )
    assert response.status_code == 201, response.text
    reservation = response.json()
    assert reservation["id"].startswith("res_")
    assert response.headers["location"] == f"{RESERVATIONS}/{reservation['id']}"
    assert "idempotent-replayed" not in response.headers
    assert reservation["channel"] == "web"
    assert reservation["status"] == "active"
    assert reservation["lines"] == [{"sku": sku, "quantity": 3, "location_id": None}]
    assert reservation["order_id"] is None
    expires_at, created_at = (
        parse_time(reservation["expires_at"]),
        parse_time(reservation["created_at"]),
    )
    assert expires_at - created_at == timedelta(seconds=900)  # the default lifetime

    held = await availability(gateway, sku)
    assert held["available"] == 9
    # A hold at no location comes off the channel's total, not off any one location.
    assert held["locations"] == before["locations"]
    fetched = await get_reservation(gateway, reservation["id"])
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == reservation

    released = await release(gateway, reservation["id"])
    assert released.status_code == 204, released.text
    assert await status_of(gateway, reservation["id"]) == "released"
    assert await available(gateway, sku) == 12

    # Releasing again has nothing to do, and gives nothing back twice.
    again = await release(gateway, reservation["id"])
    assert again.status_code == 204, again.text
    assert await status_of(gateway, reservation["id"]) == "released"
    assert await available(gateway, sku) == 12


async def test_an_unknown_reservation_is_404_to_read_and_to_release(gateway: Gateway) -> None:
    assert_problem(await get_reservation(gateway, "res_nosuchreservation"), 404)
    assert_problem(await release(gateway, "res_nosuchreservation"), 404)


async def test_not_enough_stock_is_409_naming_what_is_short_and_holds_nothing(
    gateway: Gateway,
) -> None:
    await stock(gateway, SKU_SHORT, {"DC1": (5, 0, 0)})
    await stock(gateway, SKU_SHORT_OK, {"DC1": (5, 0, 0)})
    counted = await figures(gateway, "web")

    response = await post_reservation(
        gateway,
        {"lines": [line(SKU_SHORT_OK, 2), line(SKU_SHORT, 6)], "channel": "web"},
    )
    problem = assert_problem(response, 409, slug="insufficient-stock")
    assert problem["short"] == [
        {"sku": SKU_SHORT, "location_id": None, "requested": 6, "available": 5}
    ]
    # All or nothing: the line that fitted holds nothing either.
    assert await available(gateway, SKU_SHORT) == 5
    assert await available(gateway, SKU_SHORT_OK) == 5
    after = await figures(gateway, "web")
    assert after["reservations_refused"] == counted["reservations_refused"] + 1
    assert after["reservations_created"] == counted["reservations_created"]

    # Exactly what is available can be had.
    whole = await reserve(gateway, line(SKU_SHORT, 5))
    assert await available(gateway, SKU_SHORT) == 0
    one_more = await post_reservation(gateway, {"lines": [line(SKU_SHORT, 1)], "channel": "web"})
    problem = assert_problem(one_more, 409, slug="insufficient-stock")
    assert problem["short"] == [
        {"sku": SKU_SHORT, "location_id": None, "requested": 1, "available": 0}
    ]
    assert (await release(gateway, whole["id"])).status_code == 204


async def test_a_reservation_at_a_location_must_fit_that_location_and_the_channel_total(
    gateway: Gateway,
) -> None:
    sku = SKU_AT_LOCATION
    await stock(gateway, sku, {"DC1": (10, 0, 0), "ST-AMS": (3, 0, 0)})
    assert await available(gateway, sku) == 13

    too_many = await post_reservation(
        gateway, {"lines": [line(sku, 4, "ST-AMS")], "channel": "web"}
    )
    problem = assert_problem(too_many, 409, slug="insufficient-stock")
    assert problem["short"] == [
        {"sku": sku, "location_id": "ST-AMS", "requested": 4, "available": 3}
    ]
    assert await available(gateway, sku) == 13

    at_store = await reserve(gateway, line(sku, 3, "ST-AMS"))
    assert at_store["lines"] == [{"sku": sku, "quantity": 3, "location_id": "ST-AMS"}]
    after = await availability(gateway, sku)
    assert after["available"] == 10
    assert after["locations"] == [
        {"location_id": "DC1", "available": 10},
        {"location_id": "ST-AMS", "available": 0},
        {"location_id": "ST-UTR", "available": 0},
    ]

    # 8 anywhere leaves 2 for the channel, though DC1 alone still shows 10: a line at DC1
    # must fit both.
    anywhere = await reserve(gateway, line(sku, 8))
    assert await available(gateway, sku) == 2
    at_dc = await post_reservation(gateway, {"lines": [line(sku, 3, "DC1")], "channel": "web"})
    problem = assert_problem(at_dc, 409, slug="insufficient-stock")
    assert problem["short"] == [{"sku": sku, "location_id": "DC1", "requested": 3, "available": 2}]
    assert await available(gateway, sku) == 2

    for reservation in (at_store, anywhere):
        assert (await release(gateway, reservation["id"])).status_code == 204
    assert await available(gateway, sku) == 13


async def test_one_sku_at_two_locations_is_two_lines_not_a_duplicate(gateway: Gateway) -> None:
    sku = SKU_TWO_LOCATIONS
    await stock(gateway, sku, {"DC1": (4, 0, 0), "ST-UTR": (4, 0, 0)})
    reservation = await reserve(gateway, line(sku, 1, "DC1"), line(sku, 2, "ST-UTR"))
    assert len(reservation["lines"]) == 2
    after = await availability(gateway, sku)
    assert after["available"] == 5
    assert {loc["location_id"]: loc["available"] for loc in after["locations"]} == {
        "DC1": 3,
        "ST-AMS": 0,
        "ST-UTR": 2,
    }
    assert (await release(gateway, reservation["id"])).status_code == 204
    assert await available(gateway, sku) == 8


# --- idempotency ----------------------------------------------------------------------------


async def test_the_same_key_and_body_replay_the_reservation_and_hold_stock_once(
    gateway: Gateway,
) -> None:
    sku = SKU_IDEMPOTENT
    await stock(gateway, sku, {"DC1": (10, 0, 0)})
    key = payloads.idem()
    body = {"lines": [line(sku, 4)], "channel": "web", "ttl_seconds": 600}

    first = await post_reservation(gateway, body, key=key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert await available(gateway, sku) == 6

    replay = await post_reservation(gateway, body, key=key)
    assert replay.status_code == 201, replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert replay.json() == first.json()
    assert replay.headers["location"] == first.headers["location"]
    assert await available(gateway, sku) == 6

    other = {"lines": [line(sku, 1)], "channel": "web", "ttl_seconds": 600}
    reused = await post_reservation(gateway, other, key=key)
    assert_problem(reused, 422, slug="idempotency-key-reused")
    assert await available(gateway, sku) == 6

    assert (await release(gateway, first.json()["id"])).status_code == 204
    assert await available(gateway, sku) == 10


async def test_a_refusal_is_the_first_answer_too_and_replays_without_a_second_look(
    gateway: Gateway,
) -> None:
    sku = SKU_REFUSED_REPLAY
    await stock(gateway, sku, {"DC1": (3, 0, 0)})
    counted = await figures(gateway, "web")
    key = payloads.idem()
    body = {"lines": [line(sku, 4)], "channel": "web", "ttl_seconds": 600}

    first = await post_reservation(gateway, body, key=key)
    assert_problem(first, 409, slug="insufficient-stock")
    assert "idempotent-replayed" not in first.headers
    # Enough stock now: the same key and body still get the first answer, not a new look.
    await stock(gateway, sku, {"DC1": (10, 0, 0)})
    again = await post_reservation(gateway, body, key=key)
    assert again.status_code == 409, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"].startswith(PROBLEM)
    assert again.content == first.content
    after = await figures(gateway, "web")
    assert after["reservations_refused"] == counted["reservations_refused"] + 1
    assert after["reservations_created"] == counted["reservations_created"]
    assert await available(gateway, sku) == 10
    # Another body under the key is still refused as such; a new key reserves.
    other = {"lines": [line(sku, 1)], "channel": "web", "ttl_seconds": 600}
    assert_problem(await post_reservation(gateway, other, key=key), 422)
    fresh = await post_reservation(gateway, body)
    assert fresh.status_code == 201, fresh.text
    assert (await release(gateway, fresh.json()["id"])).status_code == 204


async def test_a_reservation_without_an_idempotency_key_is_400_and_holds_nothing(
    gateway: Gateway,
) -> None:
    sku = SKU_MISSING_KEY
    await stock(gateway, sku, {"DC1": (10, 0, 0)})
    body = {"lines": [line(sku, 1)], "channel": "web"}
    problem = assert_problem(await post_reservation(gateway, body, key=None), 400)
    assert "idempotency-key" in problem["detail"].lower(), problem
    assert await available(gateway, sku) == 10


# --- expiry ---------------------------------------------------------------------------------


async def test_an_expired_reservation_gives_its_stock_back(gateway: Gateway) -> None:
    sku = SKU_EXPIRY
    await stock(gateway, sku, {"DC1": (4, 0, 0)})
    reservation = await reserve(gateway, line(sku, 4), ttl_seconds=1)
    expires_at = parse_time(reservation["expires_at"])
    assert expires_at - parse_time(reservation["created_at"]) == timedelta(seconds=1)

    held = await available(gateway, sku)
    if datetime.now(UTC) < expires_at:  # read before it expired (a slow host may miss this)
        assert held == 0

    await asyncio.sleep(1.5)
    assert datetime.now(UTC) > expires_at
    assert await available(gateway, sku) == 4
    assert await status_of(gateway, reservation["id"]) == "expired"
    # Releasing an expired reservation has nothing to do.
    assert (await release(gateway, reservation["id"])).status_code == 204
    assert await status_of(gateway, reservation["id"]) == "expired"
    # The stock can be held again, all of it.
    again = await reserve(gateway, line(sku, 4))
    assert await available(gateway, sku) == 0
    assert (await release(gateway, again["id"])).status_code == 204


# --- orders ---------------------------------------------------------------------------------


async def test_an_order_citing_a_reservation_consumes_it_and_keeps_the_stock(
    gateway: Gateway,
) -> None:
    sku = SKU_CONSUMED
    await stock(gateway, sku, {"DC1": (10, 0, 0)})
    reservation = await reserve(gateway, line(sku, 3))
    assert await available(gateway, sku) == 7

    body = order_body(sku, 3, reservation_id=reservation["id"])
    response = await post_order(gateway, body)
    assert response.status_code == 202, response.text
    order = response.json()
    assert order["reservation_id"] == reservation["id"]
    # The order holds what the reservation held; it does not hold it twice, nor give it back.
    assert await available(gateway, sku) <= 7

    fetched = await get_reservation(gateway, reservation["id"])
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["status"] == "consumed"
    assert fetched.json()["order_id"] == order["id"]
    # Reserved stock is not oversold stock.
    assert "order.oversold" not in {e["type"] for e in await order_events(gateway, order["id"])}

    problem = assert_problem(await release(gateway, reservation["id"]), 409)
    assert problem["order_id"] == order["id"]
    assert await status_of(gateway, reservation["id"]) == "consumed"
    assert await available(gateway, sku) <= 7

    # Once the backend has the order, its own `reserved` covers it.
    await gateway.wait_for_status(CLIENT, order["id"], {"accepted"})
    assert await available(gateway, sku) <= 7


async def _unusable_reservation(gateway: Gateway, kind: str, sku: str) -> str:
    """A reservation an order on channel web may not cite."""
    if kind == "unknown":
        return "res_nosuchreservation"
    if kind == "other-channel":
        return str((await reserve(gateway, line(sku, 1), channel="app"))["id"])
    if kind == "expired":
        reservation = await reserve(gateway, line(sku, 1), ttl_seconds=1)
        await asyncio.sleep(1.5)
        assert await status_of(gateway, reservation["id"]) == "expired"
        return str(reservation["id"])
    reservation = await reserve(gateway, line(sku, 1))
    if kind == "released":
        assert (await release(gateway, reservation["id"])).status_code == 204
    else:
        assert kind == "consumed", kind
        first = await post_order(gateway, order_body(sku, 1, reservation_id=reservation["id"]))
        assert first.status_code == 202, first.text
        # Let the backend take the order, so the stock figures stop moving.
        await gateway.wait_for_status(CLIENT, first.json()["id"], {"accepted"})
    return str(reservation["id"])


@pytest.mark.parametrize("kind", list(SKU_UNUSABLE))
async def test_an_order_citing_an_unusable_reservation_is_422_and_creates_nothing(
    gateway: Gateway, kind: str
) -> None:
    sku = SKU_UNUSABLE[kind]
    await stock(gateway, sku, {"DC1": (10, 0, 0)})
    reservation_id = await _unusable_reservation(gateway, kind, sku)
    status_before = None if kind == "unknown" else await status_of(gateway, reservation_id)
    level_before = await available(gateway, sku)

    body = order_body(sku, 1, reservation_id=reservation_id)
    response = await post_order(gateway, body)
    assert_problem(response, 422, field="reservation_id")
    assert await orders_with_reference(gateway, body["external_reference"]) == []
    assert await available(gateway, sku) == level_before
    if status_before is not None:
        assert await status_of(gateway, reservation_id) == status_before


async def test_an_order_beyond_the_stock_is_taken_and_recorded_as_oversold(
    gateway: Gateway,
) -> None:
    sku = SKU_OVERSOLD
    await stock(gateway, sku, {"DC1": (2, 0, 0)})
    counted = await figures(gateway, "web")

    response = await post_order(gateway, order_body(sku, 5))
    assert response.status_code == 202, response.text
    order = response.json()
    events = await order_events(gateway, order["id"])
    oversold = [e for e in events if e["type"] == "order.oversold"]
    assert len(oversold) == 1, events
    detail_line = oversold[0]["detail"]["lines"][0]
    assert detail_line["sku"] == sku
    assert detail_line["requested"] == 5
    assert detail_line["available"] == 2
    assert oversold[0]["cause"] == "channel"

    after = await figures(gateway, "web")
    assert after["orders_oversold"] == counted["orders_oversold"] + 1
    assert await available(gateway, sku) == 0


# --- channel rules --------------------------------------------------------------------------


async def test_a_channel_rule_shapes_what_the_channel_is_shown(gateway: Gateway) -> None:
    sku = SKU_RULES
    rule = {
        "allocation_share": 0.5,
        "reserve_threshold": 3,
        "safety_stock": 2,
        "excluded_locations": ["ST-AMS", "ST-UTR"],
    }
    try:
        assert (
            await put_rule(gateway, "marketplace", {"allocation_share": 0.3333})
        ).status_code == 200
        response = await put_rule(gateway, "marketplace", rule)
        assert response.status_code == 200, response.text
        assert response.json() == {"channel": "marketplace", **rule}

        listed = await gateway.http.get(RULES, headers=await gateway.headers(OPERATOR))
        assert listed.status_code == 200, listed.text
        assert {"channel": "marketplace", **rule} in listed.json()["data"]

        # Pool: DC1 only (20 - 2), less the rule's safety stock 2 = 16; half of it: 8.
        await stock(gateway, sku, {"DC1": (20, 2, 0), "ST-AMS": (5, 0, 0)})
        shown = await availability(gateway, sku, "marketplace")
        assert shown["channel"] == "marketplace"
        assert shown["available"] == 8
        assert shown["locations"] == [{"location_id": "DC1", "available": 18}]
        assert await available(gateway, sku, "web") == 23

        # Pool 5 - 2 = 3; half: 1, below the threshold of 3: nothing.
        await stock(gateway, sku, {"DC1": (5, 0, 0), "ST-AMS": (5, 0, 0)})
        assert await available(gateway, sku, "marketplace") == 0
        assert await available(gateway, sku, "web") == 10

        removed = await delete_rule(gateway, "marketplace")
        assert removed.status_code == 204, removed.text
        assert await available(gateway, sku, "marketplace") == 10
        listed = await gateway.http.get(RULES, headers=await gateway.headers(OPERATOR))
        assert "marketplace" not in {r["channel"] for r in listed.json()["data"]}
        assert_problem(await delete_rule(gateway, "marketplace"), 404)
    finally:
        await delete_rule(gateway, "marketplace")


async def test_bad_channel_rules_are_refused_and_change_nothing(gateway: Gateway) -> None:
    try:
        assert_problem(
            await put_rule(gateway, "marketplace", {"allocation_share": 0.12345}),
            422,
            field="allocation_share",
        )
        assert_problem(
            await put_rule(gateway, "fax", {"allocation_share": 0.5}), 422, field="channel"
        )
        assert_problem(
            await put_rule(gateway, "marketplace", {"allocation_share": 1.5}),
            400,
            field="allocation_share",
        )
        assert_problem(await put_rule(gateway, "marketplace", {"share": 0.5}), 400, field="share")
        listed = await gateway.http.get(RULES, headers=await gateway.headers(OPERATOR))
        assert listed.status_code == 200, listed.text
        assert "marketplace" not in {r["channel"] for r in listed.json()["data"]}
        # Channel clients do not set rules.
        forbidden = await gateway.http.put(
            f"{RULES}/marketplace",
            json={"allocation_share": 0.5},
            headers=await gateway.headers(CLIENT),
        )
        assert_problem(forbidden, 403)
    finally:
        await delete_rule(gateway, "marketplace")


async def test_a_channel_can_reserve_no_more_than_it_is_shown(gateway: Gateway) -> None:
    sku = SKU_CHANNEL_LIMIT
    await stock(gateway, sku, {"DC1": (10, 0, 0)})
    held: list[str] = []
    try:
        response = await put_rule(gateway, "marketplace", {"allocation_share": 0.5})
        assert response.status_code == 200, response.text
        assert await available(gateway, sku, "marketplace") == 5

        refused = await post_reservation(
            gateway, {"lines": [line(sku, 6)], "channel": "marketplace"}
        )
        problem = assert_problem(refused, 409, slug="insufficient-stock")
        assert problem["short"] == [
            {"sku": sku, "location_id": None, "requested": 6, "available": 5}
        ]
        # Web is shown all of it, and may hold what marketplace could not.
        held.append((await reserve(gateway, line(sku, 6), channel="web"))["id"])
        assert await available(gateway, sku, "web") == 4
        assert await available(gateway, sku, "marketplace") == 2

        held.append((await reserve(gateway, line(sku, 2), channel="marketplace"))["id"])
        assert await available(gateway, sku, "web") == 2
        assert await available(gateway, sku, "marketplace") == 1
    finally:
        await delete_rule(gateway, "marketplace")
        for reservation_id in held:
            await release(gateway, reservation_id)


# --- tenants and scopes ---------------------------------------------------------------------


async def test_another_tenant_cannot_read_release_or_consume_a_reservation(
    gateway: Gateway,
) -> None:
    sku = SKU_ISOLATION
    await stock(gateway, sku, {"DC1": (6, 0, 0)})
    await stock(gateway, sku, {"DC1": (6, 0, 0)}, tenant="globex")
    reservation = await reserve(gateway, line(sku, 2))
    assert await available(gateway, sku) == 4
    # Acme's hold is acme's: globex's figure of the same SKU does not move.
    assert await available(gateway, sku, client=OTHER_TENANT_CLIENT) == 6

    assert_problem(await get_reservation(gateway, reservation["id"], OTHER_TENANT_CLIENT), 404)
    assert_problem(await release(gateway, reservation["id"], OTHER_TENANT_CLIENT), 404)
    body = order_body(sku, 2, reservation_id=reservation["id"])
    response = await post_order(gateway, body, client=OTHER_TENANT_CLIENT)
    assert_problem(response, 422, field="reservation_id")
    assert (
        await orders_with_reference(gateway, body["external_reference"], OTHER_TENANT_CLIENT) == []
    )

    assert await status_of(gateway, reservation["id"]) == "active"
    assert await available(gateway, sku) == 4
    assert await available(gateway, sku, client=OTHER_TENANT_CLIENT) == 6
    assert (await release(gateway, reservation["id"])).status_code == 204


async def test_a_client_without_the_reserve_scope_may_read_availability_but_not_reserve(
    gateway: Gateway,
) -> None:
    sku = SKU_SCOPE
    await stock(gateway, sku, {"DC1": (5, 0, 0)})
    await gateway.add_client("acme-readonly", "acme", scopes=["inventory:read"])
    refused = await post_reservation(
        gateway, {"lines": [line(sku, 1)], "channel": "web"}, client="acme-readonly"
    )
    assert_problem(refused, 403)
    assert await available(gateway, sku, client="acme-readonly") == 5
    assert await available(gateway, sku) == 5


# --- bad input ------------------------------------------------------------------------------

Body = Callable[[str], dict[str, Any]]


def _body(**overrides: Any) -> Body:
    def make(sku: str) -> dict[str, Any]:
        base: dict[str, Any] = {"lines": [line(sku, 1)], "channel": "web"}
        return {**base, **{k: (v(sku) if callable(v) else v) for k, v in overrides.items()}}

    return make


def _without(name: str) -> Body:
    def make(sku: str) -> dict[str, Any]:
        body = _body()(sku)
        del body[name]
        return body

    return make


BAD_RESERVATIONS = [
    pytest.param(
        _body(lines=lambda sku: [line(sku, 1), line(sku, 2)]), 400, "lines", id="duplicate-sku"
    ),
    pytest.param(
        _body(lines=lambda sku: [line(sku, 1, "DC1"), line(sku, 2, "DC1")]),
        400,
        "lines",
        id="duplicate-sku-and-location",
    ),
    pytest.param(_body(lines=lambda sku: [line(sku, 0)]), 400, "lines[0].quantity", id="qty-0"),
    pytest.param(
        _body(lines=lambda sku: [line(sku, -1)]), 400, "lines[0].quantity", id="qty-negative"
    ),
    pytest.param(
        _body(lines=lambda sku: [{"sku": sku, "quantity": "1"}]),
        400,
        "lines[0].quantity",
        id="qty-as-string",
    ),
    pytest.param(_body(lines=[]), 400, "lines", id="no-lines"),
    pytest.param(
        _body(lines=lambda sku: [{"sku": sku, "quantity": 1, "location_id": ""}]),
        400,
        "lines[0].location_id",
        id="empty-location",
    ),
    pytest.param(_body(ttl_seconds=0), 400, "ttl_seconds", id="ttl-0"),
    pytest.param(_body(ttl_seconds=100_000), 400, "ttl_seconds", id="ttl-100000"),
    pytest.param(_body(channel="fax"), 422, "channel", id="unknown-channel"),
    pytest.param(_body(channel="Web!"), 400, "channel", id="malformed-channel"),
    pytest.param(_without("channel"), 400, "channel", id="no-channel"),
    pytest.param(_without("lines"), 400, "lines", id="no-lines-field"),
    pytest.param(_body(coupon="X"), 400, "coupon", id="unknown-field"),
    pytest.param(
        _body(lines=lambda sku: [{"sku": sku, "quantity": 1, "price": 5}]),
        400,
        "lines[0].price",
        id="unknown-line-field",
    ),
]


@pytest.mark.parametrize(("make", "status", "field"), BAD_RESERVATIONS)
async def test_a_bad_reservation_is_a_4xx_problem_and_holds_nothing(
    gateway: Gateway, make: Body, status: int, field: str
) -> None:
    sku = SKU_BAD_INPUT
    await stock(gateway, sku, {"DC1": (10, 0, 0)})
    before = await available(gateway, sku)
    key = payloads.idem()

    response = await post_reservation(gateway, make(sku), key=key)
    assert_problem(response, status, field=field)
    assert await available(gateway, sku) == before

    # The refused attempt did not use up its key.
    retry = await post_reservation(gateway, _body()(sku), key=key)
    assert retry.status_code == 201, f"the refused attempt consumed the key: {retry.text}"
    assert "idempotent-replayed" not in retry.headers
    assert (await release(gateway, retry.json()["id"])).status_code == 204


async def test_the_longest_lifetime_is_a_day(gateway: Gateway) -> None:
    sku = SKU_BAD_INPUT
    await stock(gateway, sku, {"DC1": (10, 0, 0)})
    reservation = await reserve(gateway, line(sku, 1), ttl_seconds=86_400)
    lifetime = parse_time(reservation["expires_at"]) - parse_time(reservation["created_at"])
    assert lifetime == timedelta(days=1)
    assert (await release(gateway, reservation["id"])).status_code == 204


Query = list[tuple[str, Any]]

BAD_AVAILABILITY = [
    pytest.param([("channel", "web")], 400, id="no-sku"),
    pytest.param([("sku", f"SKU-{i}") for i in range(101)] + [("channel", "web")], 400, id="101"),
    pytest.param([("sku", ""), ("channel", "web")], 400, id="empty-sku"),
    pytest.param([("sku", "S" * 65), ("channel", "web")], 400, id="sku-too-long"),
    pytest.param([("sku", SKU_READ_ONLY)], 400, id="no-channel"),
    pytest.param([("sku", SKU_READ_ONLY), ("channel", "")], 400, id="empty-channel"),
    pytest.param([("sku", SKU_READ_ONLY), ("channel", "fax")], 422, id="unknown-channel"),
]


@pytest.mark.parametrize(("params", "status"), BAD_AVAILABILITY)
async def test_a_bad_availability_query_is_a_4xx_problem(
    gateway: Gateway, params: Query, status: int
) -> None:
    response = await gateway.http.get(
        "/v1/availability", params=params, headers=await gateway.headers(CLIENT)
    )
    assert_problem(response, status)


async def test_availability_answers_each_sku_once_in_the_order_asked(gateway: Gateway) -> None:
    skus = [SKU_READ_ONLY, "NOPE-0000", SKU_READ_ONLY]
    params: Query = [("sku", s) for s in skus] + [("channel", "web")]
    response = await gateway.http.get(
        "/v1/availability",
        params=params,
        headers=await gateway.headers(CLIENT),
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [entry["sku"] for entry in data] == [SKU_READ_ONLY, "NOPE-0000"]
    assert {entry["channel"] for entry in data} == {"web"}
    # A SKU the backend does not stock: nothing to promise, and no report to date it.
    assert data[1] == {
        "sku": "NOPE-0000",
        "channel": "web",
        "available": 0,
        "locations": [],
        "as_of": None,
    }
    # 100 values are still fine.
    hundred: Query = [("sku", f"NOPE-{i:04d}") for i in range(100)] + [("channel", "web")]
    many = await gateway.http.get(
        "/v1/availability",
        params=hundred,
        headers=await gateway.headers(CLIENT),
    )
    assert many.status_code == 200, many.text
    assert len(many.json()["data"]) == 100
