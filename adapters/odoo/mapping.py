"""Odoo records to canonical records. Where each canonical field lives in Odoo 17 (see
adapters/odoo/simulator/seed.py for the demo layout):

- product: `product.template` (name = title, default_code = style code, description_sale,
  list_price, x_brand / x_material / x_season, categ_id's last segment as category; archived
  = inactive, draft = not `sale_ok`); variants are `product.product` (default_code = SKU,
  barcode, lst_price, x_compare_at_price where 0.0 means none, size and colour from its
  product.template.attribute.value records, weight);
- stock per warehouse: product.product `qty_available` (on hand), `free_qty` (on hand less
  reserved) and `incoming_qty`, read with context `{"warehouse": id}`;
- customer: `res.partner` contact (ref = customer number, name = "first last" split at the
  first space, email, phone, its address fields, delivery children as further addresses,
  category "Marketing consent");
- sale state: draft/sent → submitted, sale → accepted, then by its stored `delivery_status`
  (`sale_stock`): started/partial → partially_shipped, full → shipped; cancel → cancelled.
  Odoo reserves a confirmed order's stock at once (its delivery is Ready when it is in stock),
  so reserving is no step of its own here: the order reads accepted until goods leave.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from adapters.odoo.errors import NAME
from contracts.backend import CustomerRecord
from contracts.v1 import Address, Money, Variant
from contracts.v1.orders import OrderStatus

FORMAT = "%Y-%m-%d %H:%M:%S"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SALE_STATES: dict[str, OrderStatus] = {
    "draft": "submitted",
    "sent": "submitted",
    "sale": "accepted",
    "done": "completed",
    "cancel": "cancelled",
}

TEMPLATE_FIELDS = [
    "name",
    "default_code",
    "description_sale",
    "active",
    "sale_ok",
    "weight",
    "categ_id",
    "x_brand",
    "x_material",
    "x_season",
    "write_date",
    "create_date",
]
VARIANT_FIELDS = [
    "default_code",
    "barcode",
    "lst_price",
    "x_compare_at_price",
    "product_tmpl_id",
    "product_template_attribute_value_ids",
    "weight",
    "write_date",
]
PARTNER_FIELDS = [
    "name",
    "ref",
    "email",
    "phone",
    "street",
    "street2",
    "city",
    "zip",
    "country_id",
    "category_id",
    "child_ids",
    "create_date",
    "write_date",
]
ADDRESS_FIELDS = [
    "name",
    "street",
    "street2",
    "city",
    "zip",
    "country_id",
    "phone",
    "type",
    "parent_id",
]


def when(value: Any) -> datetime:
    if isinstance(value, str) and value:
        try:
            return datetime.strptime(value, FORMAT).replace(tzinfo=UTC)
        except ValueError:
            return EPOCH
    return EPOCH


def text(value: Any) -> str | None:
    """Odoo reads an empty char field as `false`."""
    return value if isinstance(value, str) and value else None


def display(value: Any) -> str | None:
    """The display name of a many2one read as `[id, name]`."""
    return str(value[1]) if isinstance(value, list) and len(value) == 2 else None


def sale_status(order: dict[str, Any]) -> OrderStatus:
    if order["state"] == "sale":
        delivered = order.get("delivery_status")
        if delivered == "full":
            return "shipped"
        if delivered in ("partial", "started"):
            return "partially_shipped"
        return "accepted"
    return SALE_STATES.get(order["state"], "submitted")


def status_of(template: dict[str, Any]) -> str:
    if not template.get("active"):
        return "archived"
    return "active" if template.get("sale_ok") else "draft"


def money(value: Any, currency: str) -> Money:
    return Money.of(Decimal(str(value if value not in (None, False) else 0)), currency)


def to_variant(variant: dict[str, Any], options: dict[str, str], currency: str) -> Variant:
    compare = variant.get("x_compare_at_price")
    return Variant(
        sku=variant["default_code"],
        barcode=text(variant.get("barcode")),
        options=options,
        price=money(variant.get("lst_price"), currency),
        compare_at_price=money(compare, currency) if compare not in (None, False, 0, 0.0) else None,
        weight=float(variant["weight"]) if variant.get("weight") not in (None, False) else None,
        external_ids={NAME: str(variant["id"])},
    )


def split_name(name: str) -> tuple[str, str]:
    first, _, last = (name or "").strip().partition(" ")
    return first, last


def to_address(record: dict[str, Any], countries: dict[int, str]) -> Address:
    first, last = split_name(record.get("name") or "")
    country_ref = record.get("country_id")
    country = countries.get(country_ref[0]) if isinstance(country_ref, list) else None
    return Address(
        first_name=first or "-",
        last_name=last or "-",
        line1=text(record.get("street")) or "-",
        line2=text(record.get("street2")),
        city=text(record.get("city")) or "-",
        postal_code=text(record.get("zip")) or "-",
        country=country or "NL",
    )


def to_customer(
    partner: dict[str, Any],
    children: list[dict[str, Any]],
    countries: dict[int, str],
    consent: int | None,
) -> CustomerRecord:
    first, last = split_name(partner.get("name") or "")
    own = [to_address(partner, countries)] if text(partner.get("street")) else []
    deliveries = [to_address(c, countries) for c in children if c.get("type") == "delivery"]
    return CustomerRecord(
        key=partner["ref"],
        email=text(partner.get("email")) or "",
        first_name=first,
        last_name=last,
        phone=text(partner.get("phone")),
        addresses=own + deliveries,
        marketing_consent=consent is not None and consent in (partner.get("category_id") or []),
        external_ids={NAME: str(partner["id"])},
        created_at=when(partner.get("create_date")),
        updated_at=max(when(partner.get("write_date")), when(partner.get("create_date"))),
    )


def partner_address_values(address: Address, country_id: int) -> dict[str, Any]:
    return {
        "street": address.line1,
        "street2": address.line2 or False,
        "city": address.city,
        "zip": address.postal_code,
        "country_id": country_id,
    }
