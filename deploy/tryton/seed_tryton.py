"""Create and seed the Tryton demo database. Runs INSIDE the trytond virtualenv.

Invoked by `tryton_server.py` as
`<venv>/bin/python seed_tryton.py DATASET_JSON CONFIG_FILE DATABASE PASSWORD_FILE`:
it activates the modules with `trytond-admin`, configures the company, accounting and sale
prerequisites with proteus (the same helpers Tryton's own scenario tests use), then loads the
bulk demo data through trytond's ORM as root, which is far faster than proteus' per-field
on_change round trips.

Where each canonical field lives (the Tryton adapter reads it back from there):
  product     product.template: name=title, code=style code, categories=[product.category named
              after demo category], weight (+weight_uom kg), list_price (company multivalue: send
              the `company` context), write_date/create_date=updated_at.
              status: active=False -> archived; active and salable=False -> draft; else active.
  variant     product.product: code=sku (template code + suffix_code), position=demo order,
              description=product description (same on every variant),
              attributes (product_attribute Dict): size, color (selection, the variant options);
              category, material, season (char, the demo product attributes); brand (char);
              compare_at_price (numeric, only when set). Price: list_price_used (= template).
  barcode     product.identifier type 'ean', code=barcode.
  location    stock.location type 'warehouse', code=demo code, with <code>-IN/-OUT/-STO children.
  on_hand     done moves lost_found -> storage: `quantity`, context {locations: [warehouse]}.
  reserved    assigned moves storage -> customer (no shipment): on_hand - `quantity` read with
              {locations: [warehouse], stock_assign: true}.
  incoming    draft moves supplier -> <code>-IN, no planned date (so always "future"): sum of
              stock.move [from_location.type=supplier, to_location child_of warehouse, state in
              draft/assigned]; `forecast_quantity` - available also works until sales add moves.
  customer    party.party: code, name="first last" (first name = first word), contact mechanisms
              email + phone, category "Marketing consent", create_date=created_at;
              party.address: party_name, street_unstructured=line1, postal_code, city, country.
              New parties get codes from a sequence continuing the demo's (C00051, ...).
Read-back caveats: SQLite returns booleans as 0/1; archived variants need active_test=False.
"""

# ruff: noqa: N806  -- Tryton's idiom names pool models like classes: Template = pool.get(...)
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

COMPANY_NAME = "Retail Demo B.V."
COUNTRY_NAMES = {"NL": "Netherlands", "BE": "Belgium", "DE": "Germany"}
CONSENT_CATEGORY = "Marketing consent"
# Variant options are selections; the product-level demo attributes and extras are free text.
OPTION_ATTRIBUTES = ("size", "color")
TEXT_ATTRIBUTES = ("category", "material", "season", "brand")
# Code suffix of each warehouse's child locations (Tryton's default warehouse uses IN/OUT/STO).
ZONES = {"input": "IN", "output": "OUT", "storage": "STO"}


_STARTED = time.monotonic()


def progress(step: str) -> None:
    print(
        f"seed: {step} done after {time.monotonic() - _STARTED:.1f}s", file=sys.stderr, flush=True
    )


def batched(method: Any, items: list[Any], size: int = 50) -> list[Any]:
    """Call a create/do-style ORM method in slices: trytond checks unique constraints on
    SQLite with one OR-clause per record, and SQLite's parser overflows at about 100."""
    return [r for i in range(0, len(items), size) for r in method(items[i : i + size]) or ()]


def activate_modules(config_file: str, database: str, password_file: str) -> None:
    """Initialise the SQLite database and activate sale + product_attribute with their deps."""
    admin = Path(sys.executable).with_name("trytond-admin")
    env = {**os.environ, "TRYTONPASSFILE": password_file}
    subprocess.run(
        [
            str(admin),
            "-c",
            config_file,
            "-d",
            database,
            "--all",
            "--activate-dependencies",
            "--email",
            "admin@example.com",
            "-u",
            "sale",
            "product_attribute",
            "product_measurements",
        ],
        check=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def configure(currency_code: str, customer_count: int) -> int:
    """Company, minimal chart, fiscal years, payment term and customer numbering via proteus;
    returns the company id."""
    from proteus import Model
    from trytond.modules.account.tests.tools import create_chart, create_fiscalyear
    from trytond.modules.account_invoice.tests.tools import (
        create_payment_term,
        set_fiscalyear_invoice_sequences,
    )
    from trytond.modules.company.tests.tools import create_company, get_company
    from trytond.modules.currency.tests.tools import get_currency

    party = Model.get("party.party")(name=COMPANY_NAME)
    party.save()
    create_company(party=party, currency=get_currency(currency_code))
    company = get_company()
    create_chart(company)
    # Invoices are only drafted by sale processing, but posting one needs a fiscal year
    # covering its date: cover a window around today so the cached database stays usable.
    this_year = dt.datetime.now(dt.UTC).year
    for year in range(this_year - 1, this_year + 4):
        fiscalyear = create_fiscalyear(company, (dt.date(year, 1, 1), dt.date(year, 12, 31)))
        set_fiscalyear_invoice_sequences(fiscalyear)
        fiscalyear.click("create_period")
    payment_term = create_payment_term()
    payment_term.save()
    account_config = Model.get("account.configuration")(1)
    account_config.default_customer_payment_term = payment_term
    account_config.save()
    # New customers created through RPC continue the demo numbering (C00051, ...).
    (sequence_type,) = Model.get("ir.sequence.type").find([("name", "=", "Party")])
    sequence = Model.get("ir.sequence")(
        name="Customer",
        sequence_type=sequence_type,
        prefix="C",
        padding=5,
        number_next=customer_count + 1,
    )
    sequence.save()
    party_config = Model.get("party.configuration")(1)
    party_config.party_sequence = sequence
    party_config.save()
    return company.id


def load_data(database: str, company_id: int, data: dict[str, Any]) -> None:
    """Bulk-load locations, products, stock and customers as root in one transaction."""
    from trytond.transaction import Transaction, TransactionError

    extras: dict[str, Any] = {}
    while True:  # trytond's dispatcher retry loop: e.g. creating a singleton asks for a lock
        try:
            with Transaction().start(database, 0, context={"company": company_id}, **extras):
                _load(company_id, data)
            return
        except TransactionError as error:
            error.fix(extras)


def _load(company_id: int, data: dict[str, Any]) -> None:
    from trytond.pool import Pool

    pool = Pool()
    warehouses = create_warehouses(pool, data["locations"])
    progress("warehouses")
    templates, variants = create_products(pool, company_id, data["products"])
    progress("products")
    create_stock(pool, data, warehouses, variants)
    progress("stock")
    parties = create_customers(pool, data["customers"])
    progress("customers")
    stamp_dates(pool, data, templates, variants, parties)
    # The admin's preferred warehouse flows into the context from get_preferences, so a new
    # sale defaults to DC1 even though there are three warehouses.
    User = pool.get("res.user")
    User.write(User.search([("login", "=", "admin")]), {"warehouse": warehouses["DC1"].id})


def create_warehouses(pool: Any, locations: list[dict[str, Any]]) -> dict[str, Any]:
    Location = pool.get("stock.location")
    ModelData = pool.get("ir.model.data")
    default_wh = Location(ModelData.get_id("stock", "location_warehouse"))
    result = {}
    for index, loc in enumerate(locations):
        code, name = loc["code"], loc["name"]
        if index == 0:
            # Reuse Tryton's default warehouse (it owns the lost-and-found location) for
            # the first demo location instead of leaving an extra, empty warehouse around.
            warehouse = default_wh
            Location.write([warehouse], {"code": code, "name": name})
            for role, suffix in ZONES.items():
                sub = getattr(warehouse, f"{role}_location")
                Location.write([sub], {"code": f"{code}-{suffix}"})
        else:
            subs = Location.create(
                [
                    {"name": f"{role.title()} Zone", "code": f"{code}-{suffix}", "type": "storage"}
                    for role, suffix in ZONES.items()
                ]
            )
            (warehouse,) = Location.create(
                [
                    {
                        "name": name,
                        "code": code,
                        "type": "warehouse",
                        "input_location": subs[0].id,
                        "output_location": subs[1].id,
                        "storage_location": subs[2].id,
                        "lost_found_location": default_wh.lost_found_location.id,
                    }
                ]
            )
        result[code] = Location(warehouse.id)
    return result


def create_attribute_set(pool: Any, products: list[dict[str, Any]]) -> int:
    Attribute = pool.get("product.attribute")
    AttributeSet = pool.get("product.attribute.set")
    attributes = []
    for name in OPTION_ATTRIBUTES:
        values = sorted({v["options"][name] for p in products for v in p["variants"]})
        attributes.append(
            {
                "name": name,
                "string": name.title(),
                "type_": "selection",
                "selection": "\n".join(f"{v}:{v}" for v in values),
            }
        )
    attributes += [{"name": n, "string": n.title(), "type_": "char"} for n in TEXT_ATTRIBUTES]
    attributes.append(
        {"name": "compare_at_price", "string": "Compare-at Price", "type_": "numeric", "digits": 2}
    )
    records = Attribute.create(attributes)
    (attribute_set,) = AttributeSet.create(
        [{"name": "Apparel", "attributes": [("add", [a.id for a in records])]}]
    )
    return attribute_set.id


def create_products(
    pool: Any,
    company_id: int,
    products: list[dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    from trytond.transaction import Transaction

    Category = pool.get("product.category")
    Template = pool.get("product.template")
    Product = pool.get("product.product")
    Account = pool.get("account.account")
    ModelData = pool.get("ir.model.data")
    unit = ModelData.get_id("product", "uom_unit")
    kilogram = ModelData.get_id("product", "uom_kilogram")

    def account(kind: str) -> int:
        (found,) = Account.search(
            [(f"type.{kind}", "=", True), ("company", "=", company_id), ("closed", "!=", True)],
            limit=1,
        )
        return found.id

    # Invoicing a processed sale needs a revenue account on the product's accounting category.
    (account_category,) = Category.create(
        [
            {
                "name": "Merchandise",
                "accounting": True,
                "account_revenue": account("revenue"),
                "account_expense": account("expense"),
            }
        ]
    )
    names = sorted({p["category"] for p in products})
    categories = dict(zip(names, Category.create([{"name": n} for n in names]), strict=True))
    attribute_set = create_attribute_set(pool, products)

    values = []
    for product in products:
        price = Decimal(product["variants"][0]["price"])
        variants = []
        for position, variant in enumerate(product["variants"]):
            attributes: dict[str, Any] = {
                **variant["options"],
                **product["attributes"],
                "brand": product["brand"],
            }
            if variant["compare_at_price"] is not None:
                attributes["compare_at_price"] = Decimal(variant["compare_at_price"])
            variants.append(
                {
                    "suffix_code": variant["sku"].removeprefix(product["code"]),
                    "position": position,
                    "description": product["description"],
                    "attributes": attributes,
                    "identifiers": [("create", [{"type": "ean", "code": variant["barcode"]}])],
                }
            )
        values.append(
            {
                "name": product["title"],
                "code": product["code"],
                "type": "goods",
                "active": product["status"] != "archived",
                "salable": product["status"] == "active",
                "default_uom": unit,
                "sale_uom": unit,
                "list_price": price,
                "account_category": account_category.id,
                "categories": [("add", [categories[product["category"]].id])],
                "attribute_set": attribute_set,
                "weight": product["variants"][0]["weight_kg"],
                "weight_uom": kilogram,
                "products": [("create", variants)],
            }
        )
    # A few templates per call keeps the variants' unique-code check query small enough.
    templates = dict(
        zip((p["code"] for p in products), batched(Template.create, values, 4), strict=True)
    )
    with Transaction().set_context(active_test=False):  # archived variants get stock too
        by_sku = {p.code: p for p in Product.search([])}
    return templates, by_sku


def create_stock(
    pool: Any, data: dict[str, Any], warehouses: dict[str, Any], variants: dict[str, Any]
) -> None:
    from trytond.transaction import Transaction

    company_id = Transaction().context["company"]
    # Done on the demo's base date, not the build date: same data whenever it is built.
    as_of = dt.datetime.fromisoformat(data["as_of"]).date()
    Move = pool.get("stock.move")
    ModelData = pool.get("ir.model.data")
    Currency = pool.get("currency.currency")
    supplier = ModelData.get_id("stock", "location_supplier")
    customer = ModelData.get_id("stock", "location_customer")
    (currency,) = Currency.search([("code", "=", data["currency"])])
    lost_found = warehouses["DC1"].lost_found_location.id
    on_hand, reserved, incoming = [], [], []
    for row in data["stock"]:
        product = variants[row["sku"]]
        warehouse = warehouses[row["location"]]
        base = {"product": product.id, "unit": product.default_uom.id, "company": company_id}
        priced = {**base, "unit_price": product.list_price_used, "currency": currency.id}
        if row["on_hand"]:
            on_hand.append(
                {
                    **base,
                    "quantity": row["on_hand"],
                    "effective_date": as_of,
                    "from_location": lost_found,
                    "to_location": warehouse.storage_location.id,
                }
            )
        if row["reserved"]:
            reserved.append(
                {
                    **priced,
                    "quantity": row["reserved"],
                    "planned_date": as_of,
                    "from_location": warehouse.storage_location.id,
                    "to_location": customer,
                }
            )
        if row["incoming"]:
            incoming.append(
                {
                    **priced,
                    "quantity": row["incoming"],
                    "from_location": supplier,
                    "to_location": warehouse.input_location.id,
                }
            )
    # Moves carry no unique constraint: larger batches are safe and measurably faster.
    batched(Move.do, batched(Move.create, on_hand, 250), 250)
    batched(Move.assign, batched(Move.create, reserved, 250), 250)
    batched(Move.create, incoming, 250)


def create_customers(pool: Any, customers: list[dict[str, Any]]) -> dict[str, Any]:
    Party = pool.get("party.party")
    PartyCategory = pool.get("party.category")
    Country = pool.get("country.country")
    codes = sorted({a["country"] for c in customers for a in c["addresses"]})
    countries = {
        c.code: c.id
        for c in Country.create(
            [{"code": code, "name": COUNTRY_NAMES.get(code, code)} for code in codes]
        )
    }
    (consent,) = PartyCategory.create([{"name": CONSENT_CATEGORY}])
    values = []
    for customer in customers:
        mechanisms = [{"type": "email", "value": customer["email"]}]
        if customer["phone"]:
            mechanisms.append({"type": "phone", "value": customer["phone"]})
        addresses = [
            {
                "party_name": f"{a['first_name']} {a['last_name']}",
                "street_unstructured": "\n".join(filter(None, (a["line1"], a["line2"]))),
                "postal_code": a["postal_code"],
                "city": a["city"],
                "country": countries[a["country"]],
            }
            for a in customer["addresses"]
        ]
        values.append(
            {
                "code": customer["code"],
                "name": f"{customer['first_name']} {customer['last_name']}",
                "contact_mechanisms": [("create", mechanisms)],
                "addresses": [("create", addresses)],
                "categories": [("add", [consent.id])] if customer["marketing_consent"] else [],
            }
        )
    return dict(zip((c["code"] for c in customers), batched(Party.create, values), strict=True))


def stamp_dates(
    pool: Any,
    data: dict[str, Any],
    templates: dict[str, Any],
    variants: dict[str, Any],
    parties: dict[str, Any],
) -> None:
    """Carry the demo timestamps into create_date/write_date (the ORM always sets 'now')."""
    from trytond.transaction import Transaction

    cursor = Transaction().connection.cursor()

    def stamp(model: str, record_id: int, when: str) -> None:
        table = pool.get(model).__table__()
        moment = dt.datetime.fromisoformat(when).astimezone(dt.UTC).replace(tzinfo=None)
        cursor.execute(
            *table.update(
                [table.create_date, table.write_date], [moment, moment], where=table.id == record_id
            )
        )

    for product in data["products"]:
        stamp("product.template", templates[product["code"]].id, product["updated_at"])
        for variant in product["variants"]:
            stamp("product.product", variants[variant["sku"]].id, product["updated_at"])
    for customer in data["customers"]:
        stamp("party.party", parties[customer["code"]].id, customer["created_at"])


def main(argv: list[str]) -> int:
    dataset_file, config_file, database, password_file = argv
    data = json.loads(Path(dataset_file).read_text(encoding="utf-8"))
    activate_modules(config_file, database, password_file)
    progress("module activation")

    from proteus import config as proteus_config

    proteus_config.set_trytond(database=database, config_file=config_file)
    company_id = configure(data["currency"], len(data["customers"]))
    progress("company and accounting")
    load_data(database, company_id, data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
