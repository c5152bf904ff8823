"""Catalog and stock reads through the API: lists with cursors and filters, single products,
ETags and conditional GETs, correlation ids, and inventory levels per SKU and location."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from adapters._demo import demo_dataset
from app.publicids import PRODUCT, public_id
from tests.support import payloads
from tests.support.gateway import Gateway

CLIENT = "acme-client"
DATASET = demo_dataset()
PRODUCTS = {p.code: p for p in DATASET.products}
STOCK: dict[str, list[Any]] = {}
for _row in DATASET.stock:
    STOCK.setdefault(_row.sku, []).append(_row)

# SKUs other tests place orders for (their stock moves); stock checks use others.
BUSY_SKUS = {payloads.SKU_A, payloads.SKU_B}
THREE_LOCATION_SKUS = [
    sku for sku, rows in STOCK.items() if len(rows) == 3 and sku not in BUSY_SKUS
]
ONE_LOCATION_SKUS = [sku for sku, rows in STOCK.items() if len(rows) == 1 and sku not in BUSY_SKUS]
PROBLEM_JSON = "application/problem+json"


def rfc3339(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, value
    assert parsed.utcoffset().total_seconds() == 0, value  # type: ignore[union-attr]
    return parsed


async def get(gateway: Gateway, path: str, params: Any = None, **headers: str) -> Any:
    return await gateway.http.get(
        path, params=params, headers=await gateway.headers(CLIENT, **headers)
    )


async def all_pages(
    gateway: Gateway, path: str, params: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    cursor = None
    while True:
        query = dict(params)
        if cursor:
            query["cursor"] = cursor
        response = await get(gateway, path, query)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        items.extend(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert re.fullmatch(r"[A-Za-z0-9_.~-]+", cursor), cursor
        assert pages < 100


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    assert body["detail"]
    assert body["correlation_id"] == response.headers["x-correlation-id"]
    assert "Traceback" not in response.text
    return body


# -- products -----------------------------------------------------------------------------


async def test_the_default_page_has_50_products_and_a_cursor(gateway: Gateway) -> None:
    response = await get(gateway, "/v1/products")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    page = response.json()
    assert set(page) == {"data", "next_cursor"}
    assert len(page["data"]) == 50
    assert isinstance(page["next_cursor"], str)
    assert page["next_cursor"]


@pytest.mark.parametrize("limit", [None, 7, 200])
async def test_paging_yields_every_product_exactly_once(
    gateway: Gateway, limit: int | None
) -> None:
    params = {} if limit is None else {"limit": limit}
    products, pages = await all_pages(gateway, "/v1/products", params)
    ids = [p["id"] for p in products]
    assert len(ids) == len(set(ids)) == 210
    assert set(ids) == {public_id(PRODUCT, code) for code in PRODUCTS}
    size = limit or 50
    assert pages == -(-210 // size)


async def test_a_product_as_channels_see_it(gateway: Gateway) -> None:
    demo = DATASET.products[3]
    response = await get(gateway, f"/v1/products/{public_id(PRODUCT, demo.code)}")
    assert response.status_code == 200, response.text
    product = response.json()
    assert product["id"] == public_id(PRODUCT, demo.code)
    assert product["id"].startswith("prd_")
    assert product["title"] == demo.title
    assert product["description"] == demo.description
    assert product["brand"] == demo.brand
    assert product["status"] == demo.status
    assert product["attributes"] == demo.attributes
    assert set(product["external_ids"]) == {"sandbox"}
    assert product["id"] != product["external_ids"]["sandbox"]
    assert rfc3339(product["updated_at"]) == demo.updated_at
    assert [v["sku"] for v in product["variants"]] == [v.sku for v in demo.variants]
    for variant, expected in zip(product["variants"], demo.variants, strict=True):
        assert variant["barcode"] == expected.barcode
        assert variant["options"] == expected.options
        assert variant["price"]["currency"] == "EUR"
        assert isinstance(variant["price"]["amount"], str)
        assert re.fullmatch(r"\d+\.\d{2,4}", variant["price"]["amount"])
        assert Decimal(variant["price"]["amount"]) == expected.price
        if expected.compare_at_price is None:
            assert variant.get("compare_at_price") is None
        else:
            assert Decimal(variant["compare_at_price"]["amount"]) == expected.compare_at_price
        assert "sandbox" in variant["external_ids"]


async def test_the_list_and_the_single_read_agree(gateway: Gateway) -> None:
    page = (await get(gateway, "/v1/products", {"limit": 3})).json()
    for listed in page["data"]:
        single = (await get(gateway, f"/v1/products/{listed['id']}")).json()
        assert single == listed


async def test_sku_filter_finds_the_one_product(gateway: Gateway) -> None:
    demo = DATASET.products[42]
    sku = demo.variants[-1].sku
    response = await get(gateway, "/v1/products", {"sku": sku})
    assert response.status_code == 200, response.text
    page = response.json()
    assert [p["id"] for p in page["data"]] == [public_id(PRODUCT, demo.code)]
    assert sku in {v["sku"] for v in page["data"][0]["variants"]}
    assert page["next_cursor"] is None


async def test_barcode_filter_finds_the_one_product(gateway: Gateway) -> None:
    demo = DATASET.products[117]
    barcode = demo.variants[0].barcode
    page = (await get(gateway, "/v1/products", {"barcode": barcode})).json()
    assert [p["id"] for p in page["data"]] == [public_id(PRODUCT, demo.code)]
    assert barcode in {v["barcode"] for v in page["data"][0]["variants"]}
    assert page["next_cursor"] is None


async def test_sku_and_barcode_of_different_products_find_nothing(gateway: Gateway) -> None:
    params = {
        "sku": DATASET.products[1].variants[0].sku,
        "barcode": DATASET.products[2].variants[0].barcode,
    }
    page = (await get(gateway, "/v1/products", params)).json()
    assert page == {"data": [], "next_cursor": None}


async def test_unknown_sku_or_barcode_find_nothing(gateway: Gateway) -> None:
    for params in ({"sku": "NOPE-0000-XXX-S"}, {"barcode": "0000000000000"}):
        response = await get(gateway, "/v1/products", params)
        assert response.status_code == 200, response.text
        assert response.json() == {"data": [], "next_cursor": None}


@pytest.mark.parametrize("status", ["active", "draft", "archived"])
async def test_status_filter(gateway: Gateway, status: str) -> None:
    products, _ = await all_pages(gateway, "/v1/products", {"status": status, "limit": 100})
    assert {p["status"] for p in products} <= {status}
    expected = {public_id(PRODUCT, p.code) for p in DATASET.products if p.status == status}
    assert expected  # the data set has each status
    assert [p["id"] for p in products if p["id"] in expected] == [p["id"] for p in products]
    assert {p["id"] for p in products} == expected


async def test_an_unknown_status_is_a_400(gateway: Gateway) -> None:
    assert_problem(await get(gateway, "/v1/products", {"status": "deleted"}), 400)


@pytest.mark.parametrize(
    "since",
    ["2026-01-07T18:05:00Z", "2026-01-07T19:05:00+01:00", "2026-01-07T18:05:00"],
    ids=["utc", "offset", "naive-as-utc"],
)
async def test_updated_since(gateway: Gateway, since: str) -> None:
    cutoff = rfc3339("2026-01-07T18:05:00Z")
    expected = {public_id(PRODUCT, p.code) for p in DATASET.products if p.updated_at >= cutoff}
    assert 0 < len(expected) < 210
    products, _ = await all_pages(gateway, "/v1/products", {"updated_since": since, "limit": 2})
    assert {p["id"] for p in products} == expected
    assert all(rfc3339(p["updated_at"]) >= cutoff for p in products)


async def test_updated_since_in_the_future_finds_nothing(gateway: Gateway) -> None:
    page = (await get(gateway, "/v1/products", {"updated_since": "2100-01-01T00:00:00Z"})).json()
    assert page == {"data": [], "next_cursor": None}


async def test_a_malformed_updated_since_is_a_400(gateway: Gateway) -> None:
    assert_problem(await get(gateway, "/v1/products", {"updated_since": "yesterday"}), 400)


async def test_filters_and_cursors_combine(gateway: Gateway) -> None:
    first = (await get(gateway, "/v1/products", {"status": "active", "limit": 150})).json()
    assert len(first["data"]) == 150
    second = (
        await get(
            gateway,
            "/v1/products",
            {"status": "active", "limit": 150, "cursor": first["next_cursor"]},
        )
    ).json()
    assert second["next_cursor"] is None
    ids = [p["id"] for p in first["data"] + second["data"]]
    assert len(ids) == len(set(ids)) == sum(1 for p in DATASET.products if p.status == "active")


async def test_a_cursor_with_other_filters_is_refused(gateway: Gateway) -> None:
    first = (await get(gateway, "/v1/products", {"status": "active", "limit": 5})).json()
    body = assert_problem(
        await get(gateway, "/v1/products", {"status": "draft", "cursor": first["next_cursor"]}), 400
    )
    assert "cursor" in body["type"] or "cursor" in body["detail"]
    assert_problem(await get(gateway, "/v1/products", {"cursor": first["next_cursor"]}), 400)
    # The limit may change between pages; the filters may not.
    ok = await get(
        gateway, "/v1/products", {"status": "active", "limit": 7, "cursor": first["next_cursor"]}
    )
    assert ok.status_code == 200, ok.text


async def test_a_cursor_of_another_list_is_refused(gateway: Gateway) -> None:
    customers = (await get(gateway, "/v1/customers", {"limit": 1})).json()
    assert customers["next_cursor"]
    assert_problem(await get(gateway, "/v1/products", {"cursor": customers["next_cursor"]}), 400)


@pytest.mark.parametrize("cursor", ["garbage", "e30.e30", "!!!", "a.b.c"])
async def test_junk_cursors_are_a_400(gateway: Gateway, cursor: str) -> None:
    assert_problem(await get(gateway, "/v1/products", {"cursor": cursor}), 400)


async def test_a_tampered_cursor_is_a_400(gateway: Gateway) -> None:
    cursor = (await get(gateway, "/v1/products", {"limit": 5})).json()["next_cursor"]
    body, signature = cursor.split(".")
    swapped = "A" if signature[0] != "A" else "B"
    assert_problem(
        await get(gateway, "/v1/products", {"cursor": f"{body}.{swapped}{signature[1:]}"}), 400
    )
    swapped = "A" if body[0] != "A" else "B"
    assert_problem(
        await get(gateway, "/v1/products", {"cursor": f"{swapped}{body[1:]}.{signature}"}), 400
    )


@pytest.mark.parametrize("limit", ["0", "-1", "201", "1000", "ten"])
async def test_limits_outside_1_to_200_are_a_400(gateway: Gateway, limit: str) -> None:
    assert_problem(await get(gateway, "/v1/products", {"limit": limit}), 400)


@pytest.mark.parametrize("limit", [1, 200])
async def test_limits_at_the_bounds(gateway: Gateway, limit: int) -> None:
    response = await get(gateway, "/v1/products", {"limit": limit})
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == limit


async def test_an_unknown_product_is_a_404_problem(gateway: Gateway) -> None:
    product_id = public_id(PRODUCT, "NOPE-9999")
    body = assert_problem(await get(gateway, f"/v1/products/{product_id}"), 404)
    assert body["type"].endswith("not-found")


@pytest.mark.parametrize(
    "product_id",
    [
        "nonsense",
        "prd_",
        "prd_!!!",
        "prd_VEVFLTEwMDE=",  # padded: not our spelling
        "prd_VEVFLTEwMDF",  # non-canonical trailing bits
        "cus_QzAwMDAx",  # a customer's id
        "TEE-1001",  # the backend's key itself
        "1",  # the backend's row id
        "prd_" + "QUFB" * 60,
    ],
)
async def test_a_malformed_product_id_is_a_404_problem(gateway: Gateway, product_id: str) -> None:
    assert_problem(await get(gateway, f"/v1/products/{product_id}"), 404)


# -- ETags and conditional reads -----------------------------------------------------------


async def test_reads_carry_an_etag_and_if_none_match_answers_304(gateway: Gateway) -> None:
    path = f"/v1/products/{public_id(PRODUCT, DATASET.products[0].code)}"
    first = await get(gateway, path)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert re.fullmatch(r'(W/)?"[^"]+"', etag)
    again = await get(gateway, path)
    assert again.headers["etag"] == etag  # stable for an unchanged resource

    not_modified = await get(gateway, path, **{"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert not_modified.headers["x-correlation-id"]

    for header in (f'"nope", {etag}', f"W/{etag}", "*"):
        response = await get(gateway, path, **{"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""


async def test_a_stale_etag_gets_the_body(gateway: Gateway) -> None:
    path = f"/v1/products/{public_id(PRODUCT, DATASET.products[0].code)}"
    response = await get(gateway, path, **{"If-None-Match": '"0123456789abcdef"'})
    assert response.status_code == 200
    assert response.json()["id"].startswith("prd_")


async def test_lists_carry_etags_too(gateway: Gateway) -> None:
    params = {"limit": 5}
    first = await get(gateway, "/v1/products", params)
    etag = first.headers["etag"]
    assert (
        await get(gateway, "/v1/products", params, **{"If-None-Match": etag})
    ).status_code == 304
    other = await get(gateway, "/v1/products", {"limit": 6}, **{"If-None-Match": etag})
    assert other.status_code == 200
    assert other.headers["etag"] != etag


async def test_different_products_have_different_etags(gateway: Gateway) -> None:
    a = await get(gateway, f"/v1/products/{public_id(PRODUCT, DATASET.products[0].code)}")
    b = await get(gateway, f"/v1/products/{public_id(PRODUCT, DATASET.products[1].code)}")
    assert a.headers["etag"] != b.headers["etag"]


# -- correlation ids -----------------------------------------------------------------------


async def test_the_callers_correlation_id_is_echoed(gateway: Gateway) -> None:
    response = await get(
        gateway, "/v1/products", {"limit": 1}, **{"X-Correlation-ID": "shop-req-42"}
    )
    assert response.headers["x-correlation-id"] == "shop-req-42"


async def test_a_correlation_id_is_generated_when_none_is_sent(gateway: Gateway) -> None:
    first = await get(gateway, "/v1/products", {"limit": 1})
    second = await get(gateway, "/v1/products", {"limit": 1})
    assert first.headers["x-correlation-id"]
    assert second.headers["x-correlation-id"]
    assert first.headers["x-correlation-id"] != second.headers["x-correlation-id"]


async def test_a_junk_correlation_id_is_replaced(gateway: Gateway) -> None:
    response = await get(gateway, "/v1/products", {"limit": 1}, **{"X-Correlation-ID": "x" * 500})
    assert response.headers["x-correlation-id"]
    assert response.headers["x-correlation-id"] != "x" * 500


async def test_problems_carry_the_correlation_id(gateway: Gateway) -> None:
    response = await get(gateway, "/v1/products/nonsense", **{"X-Correlation-ID": "shop-req-404"})
    body = assert_problem(response, 404)
    assert body["correlation_id"] == "shop-req-404"


async def test_an_unauthenticated_call_carries_the_correlation_id(gateway: Gateway) -> None:
    response = await gateway.http.get("/v1/products", headers={"X-Correlation-ID": "anon-1"})
    body = assert_problem(response, 401)
    assert response.headers["x-correlation-id"] == "anon-1"
    assert body["correlation_id"] == "anon-1"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/v1/nowhere", 404), ("GET", "/nowhere", 404), ("DELETE", "/v1/products", 405)],
)
async def test_unrouted_requests_carry_the_correlation_id(
    gateway: Gateway, method: str, path: str, status: int
) -> None:
    """ "Every response carries X-Correlation-ID", also when no route matched."""
    headers = await gateway.headers(CLIENT, **{"X-Correlation-ID": "lost-1"})
    response = await gateway.http.request(method, path, headers=headers)
    assert response.status_code == status
    assert response.headers.get("x-correlation-id") == "lost-1"
    assert response.json()["correlation_id"] == "lost-1"


# -- inventory -----------------------------------------------------------------------------


def assert_level(level: dict[str, Any]) -> None:
    assert set(level) >= {
        "sku",
        "location_id",
        "on_hand",
        "reserved",
        "available",
        "incoming",
        "safety_stock",
        "updated_at",
        "source",
        "as_of",
    }
    assert level["available"] == max(
        0, level["on_hand"] - level["reserved"] - level["safety_stock"]
    )
    assert level["source"] == "sandbox"
    rfc3339(level["as_of"])
    rfc3339(level["updated_at"])
    for name in ("on_hand", "reserved", "available", "incoming", "safety_stock"):
        assert isinstance(level[name], int)
        assert level[name] >= 0


async def test_levels_of_one_sku_across_its_locations(gateway: Gateway) -> None:
    sku = THREE_LOCATION_SKUS[40]
    response = await get(gateway, "/v1/inventory", {"sku": sku})
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    levels = page["data"]
    assert {lv["location_id"] for lv in levels} == {"DC1", "ST-AMS", "ST-UTR"}
    assert len(levels) == 3
    expected = {row.location: row for row in STOCK[sku]}
    for level in levels:
        assert level["sku"] == sku
        assert_level(level)
        demo = expected[level["location_id"]]
        assert level["on_hand"] == demo.on_hand
        assert level["reserved"] >= demo.reserved
        assert level["incoming"] == demo.incoming


async def test_a_sku_stocked_in_one_location(gateway: Gateway) -> None:
    sku = ONE_LOCATION_SKUS[3]
    levels = (await get(gateway, "/v1/inventory", {"sku": sku})).json()["data"]
    assert [(lv["sku"], lv["location_id"]) for lv in levels] == [(sku, STOCK[sku][0].location)]
    assert_level(levels[0])


async def test_every_level_on_a_page_obeys_the_formula(gateway: Gateway) -> None:
    page = (await get(gateway, "/v1/inventory", {"limit": 200})).json()
    assert len(page["data"]) == 200
    for level in page["data"]:
        assert_level(level)
    assert any(lv["reserved"] > 0 for lv in page["data"])
    assert any(lv["available"] == 0 for lv in page["data"])


async def test_filter_by_location(gateway: Gateway) -> None:
    sku = THREE_LOCATION_SKUS[41]
    levels = (await get(gateway, "/v1/inventory", {"sku": sku, "location": "ST-AMS"})).json()[
        "data"
    ]
    assert [(lv["sku"], lv["location_id"]) for lv in levels] == [(sku, "ST-AMS")]
    several = (
        await get(
            gateway, "/v1/inventory", [("sku", sku), ("location", "DC1"), ("location", "ST-UTR")]
        )
    ).json()
    assert sorted(lv["location_id"] for lv in several["data"]) == ["DC1", "ST-UTR"]


async def test_only_one_location(gateway: Gateway) -> None:
    levels, _ = await all_pages(gateway, "/v1/inventory", {"location": "ST-UTR", "limit": 200})
    assert {lv["location_id"] for lv in levels} == {"ST-UTR"}
    assert len(levels) == sum(1 for row in DATASET.stock if row.location == "ST-UTR")


async def test_an_unknown_location_or_sku_finds_nothing(gateway: Gateway) -> None:
    for params in ({"location": "WH-NOWHERE"}, {"sku": "NOPE-0000"}):
        response = await get(gateway, "/v1/inventory", params)
        assert response.status_code == 200, response.text
        assert response.json() == {"data": [], "next_cursor": None}


async def test_several_skus(gateway: Gateway) -> None:
    skus = [THREE_LOCATION_SKUS[50], ONE_LOCATION_SKUS[5], THREE_LOCATION_SKUS[51]]
    response = await get(gateway, "/v1/inventory", [("sku", s) for s in skus])
    assert response.status_code == 200, response.text
    levels = response.json()["data"]
    assert {(lv["sku"], lv["location_id"]) for lv in levels} == {
        (sku, row.location) for sku in skus for row in STOCK[sku]
    }
    assert len(levels) == 7
    for level in levels:
        assert_level(level)


async def test_inventory_pages_with_a_cursor(gateway: Gateway) -> None:
    skus = THREE_LOCATION_SKUS[60:65] + ONE_LOCATION_SKUS[10:12]
    expected = {(sku, row.location) for sku in skus for row in STOCK[sku]}
    seen: list[tuple[str, str]] = []
    cursor = None
    pages = 0
    while True:
        params: list[tuple[str, Any]] = [("sku", s) for s in skus] + [("limit", 2)]
        if cursor:
            params.append(("cursor", cursor))
        page = (await get(gateway, "/v1/inventory", params)).json()
        pages += 1
        assert len(page["data"]) <= 2
        seen.extend((lv["sku"], lv["location_id"]) for lv in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert re.fullmatch(r"[A-Za-z0-9_.~-]+", cursor)
    assert len(seen) == len(set(seen)) == len(expected) == 17
    assert set(seen) == expected
    assert pages == 9


async def test_paging_over_all_stock_yields_each_level_once(gateway: Gateway) -> None:
    levels, pages = await all_pages(gateway, "/v1/inventory", {"limit": 200})
    keys = [(lv["sku"], lv["location_id"]) for lv in levels]
    assert len(keys) == len(set(keys)) == len(DATASET.stock)
    assert set(keys) == {(row.sku, row.location) for row in DATASET.stock}
    assert pages == -(-len(DATASET.stock) // 200)


async def test_the_sku_order_does_not_change_the_query(gateway: Gateway) -> None:
    skus = THREE_LOCATION_SKUS[70:72]
    first = (
        await get(gateway, "/v1/inventory", [("sku", s) for s in skus] + [("limit", 2)])
    ).json()
    reordered = [("sku", s) for s in reversed(skus)] + [
        ("limit", 2),
        ("cursor", first["next_cursor"]),
    ]
    response = await get(gateway, "/v1/inventory", reordered)
    assert response.status_code == 200, response.text


async def test_an_inventory_cursor_for_other_skus_is_refused(gateway: Gateway) -> None:
    skus = THREE_LOCATION_SKUS[70:72]
    first = (
        await get(gateway, "/v1/inventory", [("sku", s) for s in skus] + [("limit", 2)])
    ).json()
    other = [("sku", THREE_LOCATION_SKUS[73]), ("cursor", first["next_cursor"])]
    assert_problem(await get(gateway, "/v1/inventory", other), 400)


async def test_inventory_reads_carry_etags(gateway: Gateway) -> None:
    params = {"sku": THREE_LOCATION_SKUS[80]}
    first = await get(gateway, "/v1/inventory", params)
    assert first.status_code == 200
    assert "etag" in first.headers


async def test_too_many_skus_is_a_400(gateway: Gateway) -> None:
    assert_problem(
        await get(gateway, "/v1/inventory", [("sku", f"SKU-{i}") for i in range(101)]), 400
    )
