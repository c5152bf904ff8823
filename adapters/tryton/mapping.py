"""Tryton records to canonical records and back. Where each canonical field lives in Tryton
(see deploy/tryton/seed_tryton.py for how the demo data is laid out):

- product: `product.template` (name = title, code = style code; archived = inactive, draft =
  active but not salable); variants are `product.product` (code = SKU, position, description,
  `attributes` holding size and color as options and category, material, season, brand and
  compare_at_price as the product's attributes); barcodes are `product.identifier` of type
  `ean`; price is the company's `list_price_used`.
- customer: `party.party` (code = customer number, name = "first last", split at the first
  space), its e-mail and phone contact mechanisms, its active addresses, and membership of the
  "Marketing consent" party category.
- sale state: draft/quotation → submitted, confirmed/processing → accepted (or allocated,
  partially_shipped, shipped by its shipments: see `sale_status`), done → completed,
  cancelled → cancelled.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from adapters.tryton.errors import NAME
from contracts.backend import CustomerRecord, ProductRecord
from contracts.v1 import Address, Money, Variant
from contracts.v1.orders import OrderStatus

OPTION_KEYS = ("size", "color")
PRODUCT_ATTRIBUTE_KEYS = ("category", "material", "season")
CONSENT_CATEGORY = "Marketing consent"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SALE_STATES: dict[str, OrderStatus] = {
    "draft": "submitted",
    "quotation": "submitted",
    "confirmed": "accepted",
    "processing": "accepted",
    "done": "completed",
    "cancelled": "cancelled",
}

TEMPLATE_FIELDS = ["code", "name", "active", "salable", "weight", "write_date", "create_date"]
VARIANT_FIELDS = ["code", "template", "position", "description", "attributes", "list_price_used"]
PARTY_FIELDS = [
    "code",
    "name",
    "email",
    "phone",
    "addresses",
    "categories",
    "create_date",
    "write_date",
]
ADDRESS_FIELDS = ["party", "party_name", "street", "postal_code", "city", "country.code", "active"]


def status_of(template: dict[str, Any]) -> str:
    if not template.get("active"):
        return "archived"
    return "active" if template.get("salable") else "draft"


def stamp(record: dict[str, Any]) -> datetime:
    value = record.get("write_date") or record.get("create_date")
    return value if isinstance(value, datetime) else EPOCH


def to_variant(variant: dict[str, Any], barcode: str | None, currency: str) -> Variant:
    attributes = variant.get("attributes") or {}
    compare_at = attributes.get("compare_at_price")
    price = variant.get("list_price_used")
    return Variant(
        sku=variant["code"],
        barcode=barcode,
        options={
            key: str(attributes[key]) for key in OPTION_KEYS if attributes.get(key) is not None
        },
        price=Money.of(Decimal(price if price is not None else 0), currency),
        compare_at_price=Money.of(Decimal(compare_at), currency)
        if compare_at is not None
        else None,
        weight=None,
        external_ids={NAME: str(variant["id"])},
    )


def to_product(
    template: dict[str, Any],
    variants: list[dict[str, Any]],
    barcodes: dict[int, str],
    currency: str,
) -> ProductRecord:
    ordered = sorted(variants, key=lambda v: (v.get("position") or 0, v["code"] or ""))
    first = ordered[0].get("attributes") or {} if ordered else {}
    weight = template.get("weight")
    canonical = []
    for variant in ordered:
        mapped = to_variant(variant, barcodes.get(variant["id"]), currency)
        mapped.weight = float(weight) if weight is not None else None
        canonical.append(mapped)
    return ProductRecord(
        key=template["code"],
        title=template["name"],
        description=(ordered[0].get("description") or "") if ordered else "",
        brand=first.get("brand"),
        status=status_of(template),  # type: ignore[arg-type]
        attributes={
            key: str(first[key]) for key in PRODUCT_ATTRIBUTE_KEYS if first.get(key) is not None
        },
        variants=canonical,
        external_ids={NAME: str(template["id"])},
        updated_at=max([stamp(template), *(stamp(v) for v in ordered)]),
    )


def split_name(name: str) -> tuple[str, str]:
    first, _, last = name.strip().partition(" ")
    return first, last


def to_address(address: dict[str, Any], fallback_name: str) -> Address:
    first, last = split_name(address.get("party_name") or fallback_name)
    country = (address.get("country.") or {}).get("code") or "NL"
    return Address(
        first_name=first or "-",
        last_name=last or "-",
        line1=(address.get("street") or "-").splitlines()[0][:200] or "-",
        city=address.get("city") or "-",
        postal_code=address.get("postal_code") or "-",
        country=country,
    )


def to_customer(
    party: dict[str, Any], addresses: list[dict[str, Any]], consent_category: int | None
) -> CustomerRecord:
    first, last = split_name(party.get("name") or "")
    return CustomerRecord(
        key=party["code"],
        email=party.get("email") or "",
        first_name=first,
        last_name=last,
        phone=party.get("phone") or None,
        addresses=[
            to_address(a, party.get("name") or "") for a in addresses if a.get("active", True)
        ],
        marketing_consent=consent_category is not None
        and consent_category in (party.get("categories") or []),
        external_ids={NAME: str(party["id"])},
        created_at=party["create_date"]
        if isinstance(party.get("create_date"), datetime)
        else EPOCH,
        updated_at=stamp(party),
    )


def address_values(address: Address) -> dict[str, Any]:
    return {
        "party_name": f"{address.first_name} {address.last_name}",
        "street": "\n".join(part for part in (address.line1, address.line2) if part),
        "postal_code": address.postal_code,
        "city": address.city,
    }
