"""Base models: company, currency, country, users, partners, units and product categories and
attributes (Odoo 17 `base`, `uom` and `product` field names)."""

from __future__ import annotations

from adapters.odoo.simulator import compute as c
from adapters.odoo.simulator.fields import (
    ModelDef,
    boolean,
    char,
    computed,
    floating,
    html,
    integer,
    many2many,
    many2one,
    one2many,
    selection,
)
from adapters.odoo.simulator.store import Env

PARTNER_TYPES = (
    ("contact", "Contact"),
    ("invoice", "Invoice Address"),
    ("delivery", "Delivery Address"),
    ("private", "Private Address"),
    ("other", "Other Address"),
)


def _company_currency(env: Env, _rid: int) -> int | bool:
    company = env.store.tables["res.company"].get(1)
    return company["currency_id"] if company else False


def _commercial(env: Env, rid: int) -> int:
    return c.commercial_partner(env, rid)


def _company_type(env: Env, rid: int) -> str:
    return "company" if env.store.tables["res.partner"][rid].get("is_company") else "person"


def _partner_complete_name(env: Env, rid: int) -> str:
    return c.partner_display(env, rid)


def base_models() -> list[ModelDef]:
    currency = ModelDef(
        "res.currency",
        "Currency",
        {
            "name": char("Currency", required=True),
            "full_name": char("Name"),
            "symbol": char("Symbol", required=True),
            "rounding": floating("Rounding Factor", default=0.01),
            "decimal_places": integer("Decimal Places", default=2),
            "position": selection(
                "Symbol Position", (("after", "After Amount"), ("before", "Before Amount"))
            ),
            "rate": floating("Current Rate", default=1.0),
            "active": boolean("Active", default=True),
        },
        order="active desc, name",
        indexed=("name",),
    )
    country = ModelDef(
        "res.country",
        "Country",
        {
            "name": char("Country Name", required=True),
            "code": char("Country Code", size=2),
            "currency_id": many2one("res.currency", "Currency"),
            "phone_code": integer("Country Calling Code"),
        },
        order="name",
        indexed=("code",),
        name_search=("name", "code"),
    )
    company = ModelDef(
        "res.company",
        "Companies",
        {
            "name": char("Company Name", required=True),
            "partner_id": many2one("res.partner", "Partner", required=True),
            "currency_id": many2one("res.currency", "Currency", required=True),
            "country_id": many2one("res.country", "Country"),
            "email": char("Email"),
            "phone": char("Phone"),
            "sequence": integer("Sequence", default=10),
        },
        order="sequence, name",
    )
    users = ModelDef(
        "res.users",
        "User",
        {
            "name": char("Name", required=True),
            "login": char("Login", required=True),
            "partner_id": many2one("res.partner", "Related Partner", required=True),
            "company_id": many2one("res.company", "Company", default=1),
            "tz": char("Timezone", default="Europe/Amsterdam"),
            "lang": char("Language", default="en_US"),
            "share": boolean("Share User"),
            "active": boolean("Active", default=True),
        },
        order="name, login",
        indexed=("login",),
    )
    partner_category = ModelDef(
        "res.partner.category",
        "Partner Tags",
        {
            "name": char("Tag Name", required=True),
            "color": integer("Color"),
            "parent_id": many2one("res.partner.category", "Parent Category"),
            "active": boolean("Active", default=True),
        },
        order="name",
    )
    partner = ModelDef(
        "res.partner",
        "Contact",
        {
            "name": char("Name"),
            "complete_name": computed("char", "Complete Name", _partner_complete_name),
            "ref": char("Reference"),
            "email": char("Email"),
            "phone": char("Phone"),
            "mobile": char("Mobile"),
            "street": char("Street"),
            "street2": char("Street2"),
            "city": char("City"),
            "zip": char("Zip"),
            "country_id": many2one("res.country", "Country", ondelete="restrict"),
            "type": selection("Address Type", PARTNER_TYPES, default="contact"),
            "parent_id": many2one("res.partner", "Related Company"),
            "child_ids": one2many("res.partner", "parent_id", "Contact"),
            "is_company": boolean("Is a Company"),
            "company_type": computed(
                "selection",
                "Company Type",
                _company_type,
                selection=(("person", "Individual"), ("company", "Company")),
            ),
            "commercial_partner_id": computed(
                "many2one", "Commercial Entity", _commercial, relation="res.partner"
            ),
            "company_name": char("Company Name"),
            "function": char("Job Position"),
            "vat": char("Tax ID"),
            "website": char("Website Link"),
            "comment": html("Notes"),
            "lang": char("Language", default="en_US"),
            "customer_rank": integer("Customer Rank"),
            "supplier_rank": integer("Supplier Rank"),
            "category_id": many2many("res.partner.category", "Tags"),
            "company_id": many2one("res.company", "Company"),
            "active": boolean("Active", default=True),
        },
        order="complete_name ASC, id DESC",
        name_search=("complete_name", "email", "ref", "vat"),
        indexed=("ref", "email"),
        display=c.partner_display,
    )
    uom = ModelDef(
        "uom.uom",
        "Product Unit of Measure",
        {
            "name": char("Unit of Measure", required=True),
            "rounding": floating("Rounding Precision", default=0.01),
            "uom_type": selection(
                "Type",
                (
                    ("bigger", "Bigger than the reference Unit of Measure"),
                    ("reference", "Reference Unit of Measure for this category"),
                    ("smaller", "Smaller than the reference Unit of Measure"),
                ),
                default="reference",
            ),
            "active": boolean("Active", default=True),
        },
        order="name",
    )
    category = ModelDef(
        "product.category",
        "Product Category",
        {
            "name": char("Name", required=True),
            "complete_name": computed("char", "Complete Name", c.category_complete_name),
            "parent_id": many2one("product.category", "Parent Category", ondelete="cascade"),
            "child_id": one2many("product.category", "parent_id", "Child Categories"),
        },
        order="complete_name",
        rec_name="complete_name",
        name_search=("complete_name",),
    )
    attribute = ModelDef(
        "product.attribute",
        "Product Attribute",
        {
            "name": char("Attribute", required=True),
            "sequence": integer("Sequence", default=20),
            "create_variant": selection(
                "Variants Creation Mode",
                (
                    ("always", "Instantly"),
                    ("dynamic", "Dynamically"),
                    ("no_variant", "Never (option)"),
                ),
                default="always",
            ),
            "display_type": selection(
                "Display Type",
                (("radio", "Radio"), ("pills", "Pills"), ("select", "Select"), ("color", "Color")),
                default="radio",
            ),
            "value_ids": one2many("product.attribute.value", "attribute_id", "Values"),
        },
        order="sequence, id",
    )
    value = ModelDef(
        "product.attribute.value",
        "Attribute Value",
        {
            "name": char("Value", required=True),
            "attribute_id": many2one(
                "product.attribute", "Attribute", required=True, ondelete="cascade"
            ),
            "sequence": integer("Sequence", default=10),
            "html_color": char("Color"),
            "is_custom": boolean("Is custom value"),
        },
        order="attribute_id, sequence, id",
        indexed=("attribute_id",),
        display=c.attribute_value_display("product.attribute.value"),
    )
    return [
        currency,
        country,
        company,
        users,
        partner_category,
        partner,
        uom,
        category,
        attribute,
        value,
    ]
