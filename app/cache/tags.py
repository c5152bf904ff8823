"""What each cached answer depends on, named as invalidation tags: a change to a SKU, a
location, a product or a customer drops every entry that showed it."""

from __future__ import annotations

from collections.abc import Iterable

from contracts.v1 import Customer, CustomerPage, InventoryLevelPage, Product, ProductPage

# Carried by inventory pages that do not name their SKUs (all stock at a location, or all
# stock): a change to any SKU may change them, even one they did not show.
ANY_SKU = "inventory:any-sku"


def product_tags(product: Product) -> list[str]:
    return [f"product:{product.id}", *(f"sku:{variant.sku}" for variant in product.variants)]


def product_page_tags(page: ProductPage) -> list[str]:
    return ["list:products", *(tag for product in page.data for tag in product_tags(product))]


def customer_tags(customer: Customer) -> list[str]:
    return [f"customer:{customer.id}"]


def customer_page_tags(page: CustomerPage) -> list[str]:
    return ["list:customers", *(f"customer:{customer.id}" for customer in page.data)]


def inventory_page_tags(
    page: InventoryLevelPage, skus: Iterable[str], locations: Iterable[str]
) -> list[str]:
    """Tagged with the SKUs and locations asked for too: a page that showed nothing for a SKU
    must go when that SKU gets stock; and a page that asked for no SKU in particular goes with
    any SKU's change. `stock:<sku>`: the backend's stock of it moved (an order of ours
    delivered, a change its feed reported), which leaves the product itself as it was."""
    wanted = list(skus)
    return [
        "list:inventory",
        *([] if wanted else [ANY_SKU]),
        *(f"sku:{level.sku}" for level in page.data),
        *(f"stock:{level.sku}" for level in page.data),
        *(f"stock:{sku}" for sku in wanted),
        *(f"location:{level.location_id}" for level in page.data),
        *(f"sku:{sku}" for sku in wanted),
        *(f"location:{location}" for location in locations),
    ]
