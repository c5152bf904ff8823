"""The demo data set laid out as an Odoo 17 database would hold it.

Where each canonical field lives (an Odoo adapter reads it back from there):
  company     res.company 1 "Retail Demo B.V." (currency EUR, country NL); user `admin` is uid 2.
  product     product.template: name=title, default_code=style code, description_sale=
              description, list_price=price, categ_id=product.category named after the demo
              category under "All" (display "All / tshirt"), weight (kg), type/detailed_type
              "product", x_brand, x_material, x_season (custom fields), write_date=create_date=
              updated_at. status: active=False -> archived (its variants are archived too);
              sale_ok=False -> draft; else active.
  options     product.attribute "Size" (sequence 1) and "Color" (sequence 2) with their
              product.attribute.value; per template one product.template.attribute.line per
              attribute and a product.template.attribute.value per used value.
  variant     product.product: default_code=sku, barcode, product_template_attribute_value_ids
              (its Size and Color values), lst_price (= list_price, no price_extra), weight,
              x_compare_at_price (0.0 when there is none: Odoo reads an unset float as 0.0,
              never false), active (False under an archived template).
  location    stock.warehouse per demo location: code = demo code without "-" (Odoo caps
              warehouse codes at 5 characters): DC1, STAMS, STUTR; name = demo name; view
              location <code> with internal child <code>/Stock (= lot_stock_id, barcode
              <code>-STOCK).
  on_hand     stock.quant in <code>/Stock: quantity (one quant per demo stock row, also at 0).
  reserved    the same quant's reserved_quantity; free_qty = on_hand - reserved.
  incoming    stock.move Partners/Vendors -> <code>/Stock, state assigned, product_uom_qty
              (reference <code>/IN/nnnnn). product.product qty_available / free_qty /
              incoming_qty / outgoing_qty / virtual_available with context
              {"warehouse": id} or {"location": id} give the per-location figures.
  customer    res.partner (type contact, customer_rank 1): name "First Last", ref=code, email,
              phone, street=line1, street2=line2, city, zip=postal_code, country_id (res.country
              by code), category_id includes res.partner.category "Marketing consent" when the
              customer consented, create_date=write_date=created_at. New partners get no ref.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from adapters._demo import DemoDataset, DemoLocation
from adapters._demo.dataset import BASE_TIME
from adapters.odoo.simulator.seed_catalog import seed_catalog
from adapters.odoo.simulator.store import DATETIME_FORMAT, Store

COMPANY_NAME = "Retail Demo B.V."
CONSENT_CATEGORY = "Marketing consent"
COUNTRIES = (
    ("Belgium", "BE", 32),
    ("France", "FR", 33),
    ("Germany", "DE", 49),
    ("Luxembourg", "LU", 352),
    ("Netherlands", "NL", 31),
    ("United Kingdom", "GB", 44),
    ("United States", "US", 1),
)
ADMIN_UID = 2


def warehouse_code(location_code: str) -> str:
    return location_code.replace("-", "")[:5]


def _ts(value: datetime) -> str:
    return value.strftime(DATETIME_FORMAT)


class _Seeder:
    def __init__(self, store: Store, login: str) -> None:
        self.store = store
        self.login = login
        self.stamp = _ts(BASE_TIME)

    def add(self, model: str, values: dict[str, Any], stamp: str | None = None) -> int:
        record: dict[str, Any] = {}
        for name, f in self.store.models[model].fields.items():
            if f.store and f.default is not None and not callable(f.default):
                record[name] = f.default
            elif f.type == "many2many":
                record[name] = []
        record.update(values)
        when = stamp or self.stamp
        record.setdefault("create_date", when)
        record.setdefault("write_date", when)
        record.setdefault("create_uid", 1)
        record.setdefault("write_uid", 1)
        return self.store.insert(model, record)

    def base(self, dataset: DemoDataset) -> None:
        eur = self.add(
            "res.currency", {"name": "EUR", "full_name": "Euro", "symbol": "€", "position": "after"}
        )
        self.add(
            "res.currency",
            {
                "name": "USD",
                "full_name": "US Dollar",
                "symbol": "$",
                "position": "before",
                "active": False,
            },
        )
        self.countries = {
            code: self.add("res.country", {"name": name, "code": code, "phone_code": phone})
            for name, code, phone in COUNTRIES
        }
        self.countries_currency(eur)
        company_partner = self.add(
            "res.partner",
            {
                "name": COMPANY_NAME,
                "is_company": True,
                "street": "Spoorlaan 350",
                "zip": "5038 CC",
                "city": "Tilburg",
                "country_id": self.countries["NL"],
                "email": "info@retail-demo.example.com",
                "company_id": 1,
            },
        )
        bot = self.add(
            "res.partner", {"name": "OdooBot", "email": "odoobot@example.com", "active": False}
        )
        admin = self.add(
            "res.partner", {"name": "Administrator", "email": "admin@example.com", "company_id": 1}
        )
        self.add(
            "res.company",
            {
                "name": COMPANY_NAME,
                "partner_id": company_partner,
                "currency_id": eur,
                "country_id": self.countries["NL"],
            },
        )
        self.add(
            "res.users",
            {"name": "OdooBot", "login": "__system__", "partner_id": bot, "active": False},
        )
        uid = self.add(
            "res.users", {"name": "Administrator", "login": self.login, "partner_id": admin}
        )
        assert uid == ADMIN_UID
        self.add("uom.uom", {"name": "Units"})
        self.consent = self.add("res.partner.category", {"name": CONSENT_CATEGORY})
        self.company_partner = company_partner

    def countries_currency(self, eur: int) -> None:
        for code in ("BE", "DE", "FR", "LU", "NL"):
            self.store.tables["res.country"][self.countries[code]]["currency_id"] = eur

    def locations(self, dataset: DemoDataset) -> None:
        physical = self.add("stock.location", {"name": "Physical Locations", "usage": "view"})
        partners = self.add("stock.location", {"name": "Partners", "usage": "view"})
        self.vendors = self.add(
            "stock.location", {"name": "Vendors", "usage": "supplier", "location_id": partners}
        )
        self.add(
            "stock.location", {"name": "Customers", "usage": "customer", "location_id": partners}
        )
        virtual = self.add("stock.location", {"name": "Virtual Locations", "usage": "view"})
        self.add(
            "stock.location",
            {"name": "Inventory adjustment", "usage": "inventory", "location_id": virtual},
        )
        self.stock_of: dict[str, int] = {}
        self.code_of: dict[str, str] = {}
        for sequence, location in enumerate(dataset.locations, start=1):
            code = warehouse_code(location.code)
            view = self.add(
                "stock.location",
                {"name": code, "usage": "view", "location_id": physical, "company_id": 1},
            )
            stock = self.add(
                "stock.location",
                {
                    "name": "Stock",
                    "usage": "internal",
                    "location_id": view,
                    "barcode": f"{code}-STOCK",
                    "company_id": 1,
                },
            )
            self.add(
                "stock.warehouse",
                {
                    "name": location.name,
                    "code": code,
                    "view_location_id": view,
                    "lot_stock_id": stock,
                    "partner_id": self.company_partner,
                    "sequence": sequence * 10,
                },
            )
            self.stock_of[location.code] = stock
            self.code_of[location.code] = code

    def catalog(self, dataset: DemoDataset) -> None:
        self.variant_of = seed_catalog(self, dataset)

    def stock(self, dataset: DemoDataset) -> None:
        receipts = 0
        expected = _ts(BASE_TIME + timedelta(days=7))
        for row in dataset.stock:
            product = self.variant_of[row.sku]
            location = self.stock_of[row.location]
            self.add(
                "stock.quant",
                {
                    "product_id": product,
                    "location_id": location,
                    "quantity": float(row.on_hand),
                    "reserved_quantity": float(row.reserved),
                    "in_date": self.stamp,
                    "company_id": 1,
                },
            )
            if row.incoming:
                receipts += 1
                code = self.code_of[row.location]
                self.add(
                    "stock.move",
                    {
                        "name": row.sku,
                        "reference": f"{code}/IN/{receipts:05d}",
                        "origin": f"P{receipts:05d}",
                        "product_id": product,
                        "product_uom_qty": float(row.incoming),
                        "quantity": float(row.incoming),
                        "location_id": self.vendors,
                        "location_dest_id": location,
                        "state": "assigned",
                        "date": expected,
                        "company_id": 1,
                    },
                )
        self.store.sequences["picking.in"] = receipts

    def customers(self, dataset: DemoDataset) -> None:
        for customer in dataset.customers:
            address = customer.addresses[0] if customer.addresses else None
            stamp = _ts(customer.created_at)
            values: dict[str, Any] = {
                "name": f"{customer.first_name} {customer.last_name}",
                "ref": customer.code,
                "email": customer.email,
                "phone": customer.phone or False,
                "type": "contact",
                "customer_rank": 1,
                "category_id": [self.consent] if customer.marketing_consent else [],
            }
            if address is not None:
                values.update(
                    street=address.line1,
                    street2=address.line2 or False,
                    city=address.city,
                    zip=address.postal_code,
                    country_id=self.countries.get(address.country, False),
                )
            self.add("res.partner", values, stamp)


def seed(store: Store, dataset: DemoDataset, login: str = "admin") -> None:
    seeder = _Seeder(store, login)
    seeder.base(dataset)
    seeder.locations(dataset)
    seeder.catalog(dataset)
    seeder.stock(dataset)
    seeder.customers(dataset)


def empty(store: Store, login: str = "admin") -> None:
    """What a fresh Odoo database holds: company, users, units, locations, warehouse "WH"."""
    seeder = _Seeder(store, login)
    base_only = DemoDataset(
        currency="EUR",
        locations=(DemoLocation("WH", "YourCompany", "warehouse"),),
        products=(),
        stock=(),
        customers=(),
    )
    seeder.base(base_only)
    seeder.locations(base_only)
    seeder.add("product.category", {"name": "All"})
