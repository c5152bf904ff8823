"""A believable, deterministic retail data set: apparel and accessories of a mid-size Dutch
fashion retailer with one distribution centre and two stores.

Deterministic: the same seed gives the same products, barcodes, stock and customers on every
machine, so any backend seeded from it answers the same canonical data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache

CURRENCY = "EUR"
BASE_TIME = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DemoVariant:
    sku: str
    barcode: str
    options: dict[str, str]
    price: Decimal
    compare_at_price: Decimal | None
    weight_kg: float


@dataclass(frozen=True, slots=True)
class DemoProduct:
    code: str
    title: str
    description: str
    brand: str
    category: str
    status: str
    attributes: dict[str, str]
    variants: tuple[DemoVariant, ...]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DemoLocation:
    code: str
    name: str
    kind: str  # "warehouse" | "store"


@dataclass(frozen=True, slots=True)
class DemoStock:
    sku: str
    location: str
    on_hand: int
    reserved: int
    incoming: int


@dataclass(frozen=True, slots=True)
class DemoAddress:
    first_name: str
    last_name: str
    line1: str
    city: str
    postal_code: str
    country: str
    phone: str | None = None
    company: str | None = None
    line2: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    code: str
    email: str
    first_name: str
    last_name: str
    phone: str | None
    addresses: tuple[DemoAddress, ...]
    marketing_consent: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DemoDataset:
    currency: str
    locations: tuple[DemoLocation, ...]
    products: tuple[DemoProduct, ...]
    stock: tuple[DemoStock, ...]
    customers: tuple[DemoCustomer, ...]
    channels: tuple[str, ...] = field(default=("web", "app", "store", "marketplace"))

    def variant(self, sku: str) -> DemoVariant | None:
        for product in self.products:
            for variant in product.variants:
                if variant.sku == sku:
                    return variant
        return None


LOCATIONS = (
    DemoLocation("DC1", "Distribution Centre Tilburg", "warehouse"),
    DemoLocation("ST-AMS", "Store Amsterdam Kalverstraat", "store"),
    DemoLocation("ST-UTR", "Store Utrecht Oudegracht", "store"),
)

BRANDS = ("Northwind Apparel", "Harbor & Pine", "Lumen Basics", "Trailhead Outfitters")

# category: (code, noun, base price, weight kg, size run, material options)
CATEGORIES: tuple[tuple[str, str, str, Decimal, float, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "tshirt",
        "TEE",
        "T-Shirt",
        Decimal("19.95"),
        0.18,
        ("S", "M", "L", "XL"),
        ("organic cotton", "cotton jersey", "linen blend"),
    ),
    (
        "hoodie",
        "HOD",
        "Hoodie",
        Decimal("59.95"),
        0.55,
        ("S", "M", "L", "XL"),
        ("brushed fleece", "cotton terry"),
    ),
    (
        "jeans",
        "JNS",
        "Jeans",
        Decimal("79.95"),
        0.65,
        ("28", "30", "32", "34", "36"),
        ("rigid denim", "stretch denim"),
    ),
    (
        "chinos",
        "CHN",
        "Chinos",
        Decimal("69.95"),
        0.5,
        ("28", "30", "32", "34", "36"),
        ("cotton twill",),
    ),
    (
        "sneakers",
        "SNK",
        "Sneakers",
        Decimal("89.95"),
        0.9,
        ("39", "40", "41", "42", "43", "44"),
        ("leather", "canvas", "recycled knit"),
    ),
    (
        "jacket",
        "JKT",
        "Jacket",
        Decimal("149.00"),
        1.1,
        ("S", "M", "L", "XL"),
        ("waxed cotton", "recycled nylon", "wool blend"),
    ),
    (
        "dress",
        "DRS",
        "Dress",
        Decimal("74.95"),
        0.4,
        ("XS", "S", "M", "L"),
        ("viscose", "linen", "cotton poplin"),
    ),
    (
        "shirt",
        "SHT",
        "Shirt",
        Decimal("49.95"),
        0.3,
        ("S", "M", "L", "XL"),
        ("oxford cotton", "flannel", "linen"),
    ),
    (
        "knit",
        "KNT",
        "Sweater",
        Decimal("69.95"),
        0.45,
        ("S", "M", "L", "XL"),
        ("merino wool", "lambswool", "cotton cable"),
    ),
    (
        "socks",
        "SCK",
        "Socks 3-Pack",
        Decimal("12.95"),
        0.12,
        ("36-40", "41-46"),
        ("combed cotton", "bamboo"),
    ),
    ("cap", "CAP", "Cap", Decimal("24.95"), 0.1, ("One Size",), ("cotton canvas", "wool")),
    ("scarf", "SCF", "Scarf", Decimal("34.95"), 0.2, ("One Size",), ("wool", "cashmere blend")),
    ("belt", "BLT", "Belt", Decimal("39.95"), 0.25, ("85", "90", "95", "100"), ("leather",)),
    (
        "backpack",
        "BPK",
        "Backpack",
        Decimal("99.00"),
        0.8,
        ("One Size",),
        ("recycled polyester", "waxed canvas"),
    ),
)

COLOURS = (
    ("BLK", "Black"),
    ("WHT", "White"),
    ("NVY", "Navy"),
    ("GRY", "Grey Melange"),
    ("OLV", "Olive"),
    ("SND", "Sand"),
    ("BRG", "Burgundy"),
    ("SKY", "Sky Blue"),
    ("RST", "Rust"),
    ("FOR", "Forest Green"),
    ("ECR", "Ecru"),
    ("CHR", "Charcoal"),
)

STYLE_WORDS = (
    "Essential",
    "Classic",
    "Relaxed",
    "Slim",
    "Heritage",
    "Coastal",
    "Urban",
    "Weekend",
    "Studio",
    "Alpine",
    "Harbour",
    "Meadow",
    "Canal",
    "Dune",
    "Polder",
    "Nordic",
    "Everyday",
    "Field",
    "Atelier",
    "Loop",
)

FIRST_NAMES = (
    "Anna",
    "Daan",
    "Sanne",
    "Lucas",
    "Emma",
    "Sem",
    "Julia",
    "Finn",
    "Lotte",
    "Milan",
    "Sophie",
    "Bram",
    "Noor",
    "Thijs",
    "Eva",
    "Ruben",
    "Lieke",
    "Jesse",
    "Fleur",
    "Lars",
    "Mila",
    "Koen",
    "Isa",
    "Jan",
    "Femke",
)
LAST_NAMES = (
    "de Jong",
    "Jansen",
    "de Vries",
    "van den Berg",
    "van Dijk",
    "Bakker",
    "Janssen",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "Schmidt",
    "Dubois",
    "Maes",
    "Wouters",
    "Claes",
)
CITIES = (
    ("Amsterdam", "1012", "NL"),
    ("Rotterdam", "3011", "NL"),
    ("Utrecht", "3511", "NL"),
    ("Den Haag", "2511", "NL"),
    ("Eindhoven", "5611", "NL"),
    ("Groningen", "9711", "NL"),
    ("Antwerpen", "2000", "BE"),
    ("Gent", "9000", "BE"),
    ("Köln", "50667", "DE"),
    ("Düsseldorf", "40213", "DE"),
)
POSTCODE_LETTERS = "ABCDEFGHJKLMNPRSTVWXZ"
STREETS = (
    "Keizersgracht",
    "Prinsengracht",
    "Lange Viestraat",
    "Witte de Withstraat",
    "Stratumseind",
    "Herestraat",
    "Meir",
    "Veldstraat",
    "Ehrenstraße",
    "Königsallee",
    "Damstraat",
    "Oudegracht",
)


def ean13(body12: str) -> str:
    """Complete a 12-digit body with its GS1 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def _price(base: Decimal, rng: random.Random) -> Decimal:
    # Retail price points: x.95 or whole euros, around the category's base price.
    factor = Decimal(rng.choice(("0.8", "0.9", "1.0", "1.0", "1.1", "1.25", "1.5")))
    value = (base * factor).quantize(Decimal("1"))
    return value - Decimal("0.05") if value > 20 and rng.random() < 0.7 else value


@cache
def demo_dataset(
    seed: int = 20260105, product_count: int = 210, customer_count: int = 50
) -> DemoDataset:
    """Build the demo data set. Cached: callers share one immutable instance per argument set."""
    rng = random.Random(seed)
    products: list[DemoProduct] = []
    stock: list[DemoStock] = []
    barcode_serial = 100_000
    for index in range(product_count):
        category, code, noun, base, weight, sizes, materials = CATEGORIES[index % len(CATEGORIES)]
        style_word = STYLE_WORDS[(index // len(CATEGORIES)) % len(STYLE_WORDS)]
        brand = BRANDS[(index * 7 + index // 5) % len(BRANDS)]
        material = rng.choice(materials)
        style_code = f"{code}-{1001 + index}"
        colour_count = (
            1
            if category in {"backpack", "belt"} and rng.random() < 0.5
            else rng.choice((1, 2, 2, 3))
        )
        colours = rng.sample(COLOURS, colour_count)
        price = _price(base, rng)
        on_sale = rng.random() < 0.15
        status = "draft" if index % 29 == 13 else "archived" if index % 37 == 20 else "active"
        variants: list[DemoVariant] = []
        for colour_code, colour_name in colours:
            for size in sizes:
                size_code = size.replace(" ", "").upper()
                sku = f"{style_code}-{colour_code}-{size_code}"
                barcode_serial += 1
                variants.append(
                    DemoVariant(
                        sku=sku,
                        barcode=ean13(f"871{barcode_serial:09d}"),
                        options={"size": size, "color": colour_name},
                        price=price,
                        compare_at_price=(price * Decimal("1.3")).quantize(Decimal("1"))
                        - Decimal("0.05")
                        if on_sale
                        else None,
                        weight_kg=weight,
                    )
                )
                in_stores = rng.random() < 0.6
                for location in LOCATIONS:
                    if location.kind == "store" and not in_stores:
                        continue
                    on_hand = (
                        rng.randint(0, 120) if location.kind == "warehouse" else rng.randint(0, 12)
                    )
                    stock.append(
                        DemoStock(
                            sku=sku,
                            location=location.code,
                            on_hand=on_hand,
                            reserved=min(on_hand, rng.choice((0, 0, 0, 1, 2, 5))),
                            incoming=rng.choice((0, 0, 0, 24, 48))
                            if location.kind == "warehouse"
                            else 0,
                        )
                    )
        products.append(
            DemoProduct(
                code=style_code,
                title=f"{style_word} {material.title()} {noun}",
                description=(
                    f"The {style_word.lower()} {noun.lower()} from {brand}, made of {material}. "
                    "Designed in Amsterdam, built to be worn for years."
                ),
                brand=brand,
                category=category,
                status=status,
                attributes={
                    "category": category,
                    "material": material,
                    "season": rng.choice(("SS26", "AW26", "core")),
                },
                variants=tuple(variants),
                updated_at=BASE_TIME + timedelta(minutes=index * 17),
            )
        )
    customers: list[DemoCustomer] = []
    for index in range(customer_count):
        first = FIRST_NAMES[index % len(FIRST_NAMES)]
        last = LAST_NAMES[(index * 3 + index // len(FIRST_NAMES)) % len(LAST_NAMES)]
        city, postcode, country = CITIES[index % len(CITIES)]
        phone_prefix = {"NL": "+31 6", "BE": "+32 470", "DE": "+49 151"}[country]
        phone = f"{phone_prefix} {rng.randint(1000000, 9999999)}"
        local = f"{first}.{last}".lower().replace(" ", "")
        address = DemoAddress(
            first_name=first,
            last_name=last,
            line1=f"{rng.choice(STREETS)} {rng.randint(1, 250)}",
            city=city,
            postal_code=f"{postcode} {rng.choice(POSTCODE_LETTERS)}{rng.choice(POSTCODE_LETTERS)}"
            if country == "NL"
            else postcode,
            country=country,
            phone=phone,
        )
        customers.append(
            DemoCustomer(
                code=f"C{index + 1:05d}",
                email=f"{local}{index + 1}@example.com",
                first_name=first,
                last_name=last,
                phone=phone,
                addresses=(address,),
                marketing_consent=rng.random() < 0.4,
                created_at=BASE_TIME - timedelta(days=400 - index * 7),
            )
        )
    return DemoDataset(
        currency=CURRENCY,
        locations=LOCATIONS,
        products=tuple(products),
        stock=tuple(stock),
        customers=tuple(customers),
    )
