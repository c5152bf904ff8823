"""One conformance suite for every backend adapter: the same canonical answers from each,
asserted against the demo data set every backend is seeded with."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapters._demo import demo_dataset
from contracts.backend import (
    CustomerChanges,
    CustomerDraft,
    CustomerQuery,
    ProductQuery,
    SaleLine,
    SaleRequest,
    StockQuery,
)
from contracts.errors import BusinessRejection
from contracts.ports import (
    BackendLifecycle,
    CatalogBackend,
    CustomersBackend,
    InventoryBackend,
    OrdersBackend,
)
from contracts.v1 import Address, Money, OrderTotals
from contracts.v1.orders import OrderStatus
from tests.contract.backends import (
    Operator,
    Subject,
    odoo_backend,
    sandbox_backend,
    tryton_backend,
)

DEMO = demo_dataset()
BACKENDS = ["sandbox", "tryton", "odoo"]
# Plenty on hand at the distribution centre, where every backend takes a web order's stock from.
STOCKED_SKU = "SNK-1103-RST-41"


@pytest.fixture(scope="module", params=BACKENDS)
async def subject(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Subject]:
    factories = {"sandbox": sandbox_backend, "tryton": tryton_backend, "odoo": odoo_backend}
    async with factories[request.param](tmp_path_factory.mktemp(request.param)) as instance:
        yield instance


@pytest.fixture(scope="module")
def backend(subject: Subject) -> Any:
    return subject.backend


@pytest.fixture(scope="module")
def operator(subject: Subject) -> Operator:
    return subject.operator


def _address() -> Address:
    return Address(
        first_name="Ana",
        last_name="Smit",
        line1="Damstraat 1",
        city="Amsterdam",
        postal_code="1012 AB",
        country="NL",
    )


def _sale(reference: str, customer_key: str, sku: str, quantity: int = 1) -> SaleRequest:
    variant = DEMO.variant(sku)
    assert variant is not None
    price = Money.of(variant.price, DEMO.currency)
    total = Money.of(variant.price * quantity, DEMO.currency)
    return SaleRequest(
        reference=reference,
        channel="web",
        external_reference=f"EXT-{reference}",
        customer_key=customer_key,
        lines=[SaleLine(sku=sku, quantity=quantity, unit_price=price)],
        shipping_address=_address(),
        billing_address=None,
        totals=OrderTotals(subtotal=total, total=total),
        placed_at=datetime.now(UTC),
    )


async def test_implements_every_port(backend: Any) -> None:
    for port in (
        CatalogBackend,
        InventoryBackend,
        OrdersBackend,
        CustomersBackend,
        BackendLifecycle,
    ):
        assert isinstance(backend, port), port.__name__
    await backend.check()


async def test_lists_every_product_once_across_pages(backend: CatalogBackend) -> None:
    keys: list[str] = []
    cursor = None
    while True:
        page = await backend.list_products(ProductQuery(limit=37, cursor=cursor))
        assert len(page.items) <= 37
        keys.extend(record.key for record in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(keys) == len(set(keys))
    assert set(keys) == {product.code for product in DEMO.products}


async def test_product_matches_the_demo_data(backend: CatalogBackend) -> None:
    demo = DEMO.products[3]
    record = await backend.get_product(demo.code)
    assert record is not None
    assert (record.title, record.description, record.brand, record.status) == (
        demo.title,
        demo.description,
        demo.brand,
        demo.status,
    )
    assert [v.sku for v in record.variants] == [v.sku for v in demo.variants]
    for got, want in zip(record.variants, demo.variants, strict=True):
        assert got.barcode == want.barcode
        assert got.options == want.options
        assert got.price.currency == DEMO.currency
        assert Decimal(got.price.amount) == want.price
        assert (
            Decimal(got.compare_at_price.amount) if got.compare_at_price else None
        ) == want.compare_at_price
        assert got.external_ids
    assert record.external_ids
    assert record.updated_at.tzinfo is not None
    assert await backend.get_product("NO-SUCH-STYLE") is None


async def test_finds_a_product_by_sku_and_by_barcode(backend: CatalogBackend) -> None:
    demo = DEMO.products[10]
    variant = demo.variants[-1]
    by_sku = await backend.list_products(ProductQuery(sku=variant.sku))
    by_barcode = await backend.list_products(ProductQuery(barcode=variant.barcode))
    assert [r.key for r in by_sku.items] == [demo.code]
    assert [r.key for r in by_barcode.items] == [demo.code]
    assert (await backend.list_products(ProductQuery(sku="NOPE-0"))).items == []
    assert await backend.find_skus([variant.sku, "NOPE-0"]) == {variant.sku}


async def test_filters_products_by_status(backend: CatalogBackend) -> None:
    for status in ("draft", "archived"):
        page = await backend.list_products(ProductQuery(status=status, limit=200))
        assert {r.key for r in page.items} == {p.code for p in DEMO.products if p.status == status}


async def test_reports_locations_and_stock_per_location(backend: InventoryBackend) -> None:
    locations = await backend.list_locations()
    assert {(loc.id, loc.kind) for loc in locations} == {
        (loc.code, loc.kind) for loc in DEMO.locations
    }
    sku = DEMO.products[20].variants[0].sku
    page = await backend.list_stock(StockQuery(skus=(sku,)))
    got = {record.location_id: record for record in page.items}
    want = {s.location: s for s in DEMO.stock if s.sku == sku}
    # A location where nothing is on hand, held or expected may be left out.
    stocked = {loc for loc, s in want.items() if s.on_hand or s.reserved or s.incoming}
    assert stocked <= set(got) <= set(want)
    for location, record in got.items():
        assert record.on_hand == want[location].on_hand
        assert record.reserved == want[location].reserved
        assert record.incoming == want[location].incoming
        assert record.safety_stock >= 0
        assert record.updated_at.tzinfo is not None
    only_dc = await backend.list_stock(StockQuery(skus=(sku,), location_ids=("DC1",)))
    assert [r.location_id for r in only_dc.items] == ["DC1"]


async def test_pages_through_stock_without_repeats(backend: InventoryBackend) -> None:
    skus = tuple(v.sku for v in DEMO.products[0].variants)
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        page = await backend.list_stock(StockQuery(skus=skus, limit=5, cursor=cursor))
        seen.extend((r.sku, r.location_id) for r in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    want = {(s.sku, s.location) for s in DEMO.stock if s.sku in skus}
    stocked = {
        (s.sku, s.location)
        for s in DEMO.stock
        if s.sku in skus and (s.on_hand or s.reserved or s.incoming)
    }
    assert stocked <= set(seen) <= want
    assert seen == sorted(seen)


async def test_lists_finds_and_pages_customers(backend: CustomersBackend) -> None:
    keys: list[str] = []
    cursor = None
    while True:
        page = await backend.list_customers(CustomerQuery(limit=20, cursor=cursor))
        keys.extend(r.key for r in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert {c.code for c in DEMO.customers} <= set(keys)
    demo = DEMO.customers[7]
    by_email = await backend.list_customers(CustomerQuery(email=demo.email.upper()))
    assert [r.key for r in by_email.items] == [demo.code]
    record = await backend.get_customer(demo.code)
    assert record is not None
    assert (record.email, record.first_name, record.last_name, record.phone) == (
        demo.email,
        demo.first_name,
        demo.last_name,
        demo.phone,
    )
    assert record.addresses[0].city == demo.addresses[0].city
    assert record.addresses[0].country == demo.addresses[0].country
    assert await backend.get_customer("NO-SUCH-CUSTOMER") is None


async def test_creates_customers_idempotently_and_updates_them(backend: CustomersBackend) -> None:
    key = f"GW-{uuid.uuid4().hex[:12].upper()}"
    draft = CustomerDraft(
        key=key,
        email=f"{key.lower()}@example.com",
        first_name="Lotte",
        last_name="Bakker",
        phone="+31 6 1234 5678",
        addresses=[_address()],
        marketing_consent=True,
    )
    created = await backend.create_customer(draft)
    again = await backend.create_customer(draft)
    assert created.key == again.key == key
    assert created.external_ids == again.external_ids
    assert (created.email, created.first_name, created.marketing_consent) == (
        draft.email,
        "Lotte",
        True,
    )
    updated = await backend.update_customer(key, CustomerChanges(last_name="de Boer", phone=None))
    assert updated is not None
    assert (updated.last_name, updated.phone, updated.first_name) == ("de Boer", None, "Lotte")
    assert (
        await backend.update_customer("NO-SUCH-CUSTOMER", CustomerChanges(first_name="X")) is None
    )


async def test_posts_an_order_once_even_when_posted_again(backend: OrdersBackend) -> None:
    reference = f"ord_conf{uuid.uuid4().hex[:10]}"
    sale = _sale(reference, DEMO.customers[0].code, DEMO.products[5].variants[0].sku, quantity=2)
    first = await backend.submit_order(sale)
    second = await backend.submit_order(sale)
    assert first.created is True and second.created is False
    assert first.backend_reference == second.backend_reference
    assert first.reference == reference
    assert first.status in OrderStatus.__args__  # type: ignore[attr-defined]
    assert first.status in {"submitted", "accepted"}
    found = await backend.get_order(reference)
    assert found is not None and found.backend_reference == first.backend_reference
    assert await backend.get_order("ord_never_posted") is None


async def test_concurrent_posts_of_one_order_make_one_sale_and_refuse_none(
    backend: OrdersBackend,
) -> None:
    """Two workers post the same order at once (one's lease lapsed while it hung): each must
    end with the one sale, none may take the other's confirmation for a refusal and undo it."""
    reference = f"ord_race{uuid.uuid4().hex[:10]}"
    sale = _sale(reference, DEMO.customers[1].code, DEMO.products[6].variants[0].sku, quantity=1)
    receipts = await asyncio.gather(*(backend.submit_order(sale) for _ in range(4)))
    assert len({receipt.backend_reference for receipt in receipts}) == 1
    assert {receipt.status for receipt in receipts} == {receipts[0].status}
    assert receipts[0].status in {"submitted", "accepted"}
    found = await backend.get_order(reference)
    assert found is not None
    assert (found.backend_reference, found.status) == (
        receipts[0].backend_reference,
        receipts[0].status,
    )


async def test_rejects_unknown_products_and_customers_as_business_rejections(
    backend: OrdersBackend,
) -> None:
    unknown_sku = _sale(
        f"ord_rej{uuid.uuid4().hex[:8]}", DEMO.customers[0].code, DEMO.products[0].variants[0].sku
    )
    unknown_sku.lines = [
        SaleLine(sku="NOPE-404", quantity=1, unit_price=Money(amount="1.00", currency="EUR"))
    ]
    with pytest.raises(BusinessRejection) as rejected:
        await backend.submit_order(unknown_sku)
    assert rejected.value.reasons
    assert await backend.get_order(unknown_sku.reference) is None  # nothing half-written
    unknown_customer = _sale(
        f"ord_rej{uuid.uuid4().hex[:8]}", "NO-SUCH-CUSTOMER", DEMO.products[0].variants[0].sku
    )
    with pytest.raises(BusinessRejection):
        await backend.submit_order(unknown_customer)


async def test_cancels_a_posted_order_or_says_why_not(backend: OrdersBackend) -> None:
    reference = f"ord_cxl{uuid.uuid4().hex[:10]}"
    await backend.submit_order(
        _sale(reference, DEMO.customers[1].code, DEMO.products[7].variants[0].sku)
    )
    try:
        cancelled = await backend.cancel_order(reference)
    except BusinessRejection as refusal:  # an ERP may refuse to cancel a confirmed sale
        assert refusal.reasons
        assert (await backend.get_order(reference)).status != "cancelled"  # type: ignore[union-attr]
    else:
        assert cancelled is not None and cancelled.status == "cancelled"
        again = await backend.cancel_order(reference)  # harmless twice
        assert again is not None and again.status == "cancelled"
    assert await backend.cancel_order("ord_never_posted") is None


async def test_reports_its_order_changes_in_a_feed_it_can_resume(backend: OrdersBackend) -> None:
    page = await backend.order_updates(None, 500)
    cursor = page.next_cursor
    while len(page.items) == 500:
        page = await backend.order_updates(cursor, 500)
        cursor = page.next_cursor
    reference = f"ord_feed{uuid.uuid4().hex[:10]}"
    receipt = await backend.submit_order(
        _sale(reference, DEMO.customers[2].code, DEMO.products[8].variants[0].sku)
    )
    fresh = await backend.order_updates(cursor, 100)
    mine = [u for u in fresh.items if u.reference == reference]
    assert mine, "the new sale appears after the cursor"
    assert mine[-1].status == receipt.status
    assert mine[-1].backend_reference == receipt.backend_reference
    assert mine[-1].changed_at.tzinfo is not None
    resumed = await backend.order_updates(fresh.next_cursor, 100)
    assert reference not in {u.reference for u in resumed.items}  # nothing seen twice


async def _feed_end(backend: OrdersBackend) -> str | None:
    page = await backend.order_updates(None, 500)
    cursor = page.next_cursor
    while len(page.items) == 500:
        page = await backend.order_updates(cursor, 500)
        cursor = page.next_cursor
    return cursor


async def test_reports_the_backends_later_states_as_canonical_statuses(
    backend: OrdersBackend, operator: Operator
) -> None:
    """A posted sale driven on by the backend's own people (allocation, shipping...): the
    order and the feed of changes say each step in API.md's words, each change once."""
    cursor = await _feed_end(backend)
    reference = f"ord_life{uuid.uuid4().hex[:10]}"
    receipt = await backend.submit_order(
        _sale(reference, DEMO.customers[3].code, STOCKED_SKU, quantity=2)
    )
    page = await backend.order_updates(cursor, 100)
    assert [u.status for u in page.items if u.reference == reference] == [receipt.status]
    cursor = page.next_cursor
    for step, status in operator.steps:
        await operator.do(step, reference)
        found = await backend.get_order(reference)
        assert found is not None and found.status == status, (step, found)
        page = await backend.order_updates(cursor, 100)
        mine = [u.status for u in page.items if u.reference == reference]
        assert mine == [status], (step, mine)  # seen once, not missed, not repeated
        cursor = page.next_cursor
    assert [
        u for u in (await backend.order_updates(cursor, 100)).items if u.reference == reference
    ] == []
