"""Computed fields: display names as Odoo 17 builds them, product stock quantities honouring the
`location` / `warehouse` context keys (`product.product._get_domain_locations`), and sale
amounts."""

from __future__ import annotations

from typing import Any

from adapters.odoo.simulator.store import Env

OPEN_MOVE_STATES = frozenset({"waiting", "confirmed", "assigned", "partially_available"})
PARTNER_TYPE_LABELS = {
    "contact": "Contact",
    "invoice": "Invoice Address",
    "delivery": "Delivery Address",
    "other": "Other Address",
    "private": "Private Address",
}


def _rec(env: Env, model: str, rid: int) -> dict[str, Any]:
    return env.store.tables[model][rid]


def display_name(env: Env, model: str, rid: int) -> str:
    mdef = env.store.models[model]
    if mdef.display is not None:
        return mdef.display(env, rid)
    if mdef.rec_name:
        value = env.get(model, rid, mdef.rec_name)
        return value if isinstance(value, str) else str(value or "")
    return f"{model},{rid}"


# -- display names ----------------------------------------------------------------------------


def partner_display(env: Env, rid: int) -> str:
    rec = _rec(env, "res.partner", rid)
    name = rec.get("name") or ""
    parent = rec.get("parent_id")
    if parent:
        if not name and rec.get("type") in ("invoice", "delivery", "other", "private"):
            name = PARTNER_TYPE_LABELS[rec["type"]]
        if not rec.get("is_company"):
            commercial = commercial_partner(env, parent)
            company = _rec(env, "res.partner", commercial)
            prefix = (company.get("is_company") and company.get("name")) or _rec(
                env, "res.partner", parent
            ).get("name")
            name = f"{prefix}, {name}"
    return str(name).strip()


def commercial_partner(env: Env, rid: int) -> int:
    table = env.store.tables["res.partner"]
    while True:
        rec = table[rid]
        if rec.get("is_company") or not rec.get("parent_id"):
            return rid
        rid = rec["parent_id"]


def variant_values(env: Env, pid: int) -> list[str]:
    """`product_template_attribute_value_ids._get_combination_name()`: the variant's values in
    attribute order, leaving out attributes the template has only one value for."""
    store = env.store
    ptavs = store.tables["product.template.attribute.value"]
    lines = store.tables["product.template.attribute.line"]
    attributes = store.tables["product.attribute"]
    chosen = []
    for vid in _rec(env, "product.product", pid).get("product_template_attribute_value_ids", []):
        ptav = ptavs[vid]
        line = lines.get(ptav.get("attribute_line_id") or 0)
        if line is not None and len(line.get("value_ids", [])) <= 1:
            continue
        attribute = attributes[ptav["attribute_id"]]
        chosen.append((attribute.get("sequence", 0), ptav["attribute_id"], ptav["name"]))
    return [name for _seq, _attr, name in sorted(chosen)]


def product_display(env: Env, pid: int) -> str:
    rec = _rec(env, "product.product", pid)
    name = _rec(env, "product.template", rec["product_tmpl_id"]).get("name") or ""
    values = variant_values(env, pid)
    if values:
        name = f"{name} ({', '.join(values)})"
    code = rec.get("default_code")
    return f"[{code}] {name}" if code else name


def template_display(env: Env, tid: int) -> str:
    rec = _rec(env, "product.template", tid)
    code = rec.get("default_code")
    return f"[{code}] {rec.get('name') or ''}" if code else str(rec.get("name") or "")


def category_complete_name(env: Env, cid: int) -> str:
    rec = _rec(env, "product.category", cid)
    parent = rec.get("parent_id")
    if parent:
        return f"{category_complete_name(env, parent)} / {rec['name']}"
    return str(rec["name"])


def location_complete_name(env: Env, lid: int) -> str:
    rec = _rec(env, "stock.location", lid)
    parent = rec.get("location_id")
    if parent and rec.get("usage") != "view":
        return f"{location_complete_name(env, parent)}/{rec['name']}"
    return str(rec["name"])


def attribute_value_display(model: str) -> Any:
    def compute(env: Env, rid: int) -> str:
        rec = _rec(env, model, rid)
        attribute = _rec(env, "product.attribute", rec["attribute_id"])
        return f"{attribute['name']}: {rec['name']}"

    return compute


def sale_line_display(env: Env, lid: int) -> str:
    rec = _rec(env, "sale.order.line", lid)
    order = _rec(env, "sale.order", rec["order_id"])
    first = (rec.get("name") or "").split("\n")[0] or product_display(env, rec["product_id"])
    name = f"{order['name']} - {first}"
    ref = _rec(env, "res.partner", order["partner_id"]).get("ref")
    return f"{name} ({ref})" if ref else name


def move_display(env: Env, mid: int) -> str:
    rec = _rec(env, "stock.move", mid)
    code = _rec(env, "product.product", rec["product_id"]).get("default_code")
    source = _rec(env, "stock.location", rec["location_id"])["name"]
    dest = _rec(env, "stock.location", rec["location_dest_id"])["name"]
    return f"{code + ': ' if code else ''}{source}>{dest}"


def quant_display(env: Env, qid: int) -> str:
    return product_display(env, _rec(env, "stock.quant", qid)["product_id"])


# -- stock ------------------------------------------------------------------------------------


def _search_ids(env: Env, model: str, values: list[Any], name_of: Any) -> set[int]:
    ids: set[int] = set()
    for item in values:
        if isinstance(item, int) and not isinstance(item, bool):
            ids.add(item)
        elif isinstance(item, str):
            needle = item.lower()
            ids.update(
                rid for rid in env.store.tables[model] if needle in name_of(env, rid).lower()
            )
    return ids


def _warehouse_name(env: Env, rid: int) -> str:
    return str(_rec(env, "stock.warehouse", rid).get("name") or "")


def stock_locations(env: Env) -> frozenset[int]:
    """The internal locations a stock figure covers, from the context like Odoo 17: `warehouse`
    (ids or names) -> their view locations, `location` (ids or names), intersected when both
    are given, all warehouses when neither; then every location below them."""
    cached = env.cache.get("stock_locations")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    location = env.context.get("location")
    warehouse = env.context.get("warehouse")
    if location and not isinstance(location, list):
        location = [location]
    if warehouse and not isinstance(warehouse, list):
        warehouse = [warehouse]
    warehouses = env.store.tables["stock.warehouse"]
    if warehouse:
        wh_ids = _search_ids(env, "stock.warehouse", warehouse, _warehouse_name)
        roots = {warehouses[w]["view_location_id"] for w in wh_ids if w in warehouses}
        if location:
            roots &= _search_ids(env, "stock.location", location, location_complete_name)
    elif location:
        roots = _search_ids(env, "stock.location", location, location_complete_name)
    else:
        roots = {rec["view_location_id"] for rec in warehouses.values()}
    roots = {r for r in roots if r in env.store.tables["stock.location"]}
    result = frozenset(env.store.descendants("stock.location", roots))
    env.cache["stock_locations"] = result
    return result


def product_quantities(env: Env, pid: int) -> dict[str, float]:
    key = ("qty", pid)
    cached = env.cache.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    store = env.store
    locations = stock_locations(env)
    on_hand = reserved = incoming = outgoing = 0.0
    quants = store.tables["stock.quant"]
    for qid in store.lookup("stock.quant", "product_id", pid):
        quant = quants[qid]
        if quant["location_id"] in locations:
            on_hand += quant.get("quantity", 0.0)
            reserved += quant.get("reserved_quantity", 0.0)
    moves = store.tables["stock.move"]
    for mid in store.lookup("stock.move", "product_id", pid):
        move = moves[mid]
        if move.get("state") not in OPEN_MOVE_STATES:
            continue
        source_in = move["location_id"] in locations
        dest_in = move["location_dest_id"] in locations
        if dest_in and not source_in:
            incoming += move.get("product_uom_qty", 0.0)
        elif source_in and not dest_in:
            outgoing += move.get("product_uom_qty", 0.0)
    result = {
        "qty_available": on_hand,
        "free_qty": on_hand - reserved,
        "incoming_qty": incoming,
        "outgoing_qty": outgoing,
        "virtual_available": on_hand + incoming - outgoing,
    }
    env.cache[key] = result
    return result


def product_qty(name: str) -> Any:
    def compute(env: Env, pid: int) -> float:
        return product_quantities(env, pid)[name]

    return compute


def template_qty(name: str) -> Any:
    def compute(env: Env, tid: int) -> float:
        variants = env.store.lookup("product.product", "product_tmpl_id", tid)
        active = [v for v in variants if env.store.is_active("product.product", v)]
        return sum(product_quantities(env, v)[name] for v in active)

    return compute


def location_warehouse(env: Env, lid: int) -> int | bool:
    views = env.store.index[("stock.warehouse", "view_location_id")]
    for ancestor in _chain(env, lid):
        found = views.get(ancestor)
        if found:
            return min(found)
    return False


def _chain(env: Env, lid: int) -> list[int]:
    table = env.store.tables["stock.location"]
    chain = []
    while lid and lid in table and lid not in chain:
        chain.append(lid)
        lid = table[lid].get("location_id") or 0
    return chain


# -- sales ------------------------------------------------------------------------------------


def line_subtotal(env: Env, lid: int) -> float:
    rec = _rec(env, "sale.order.line", lid)
    gross = rec.get("product_uom_qty", 0.0) * rec.get("price_unit", 0.0)
    return round(float(gross) * (1 - float(rec.get("discount", 0.0)) / 100.0), 2)


def order_amount(env: Env, oid: int) -> float:
    lines = env.store.lookup("sale.order.line", "order_id", oid)
    return round(sum(line_subtotal(env, lid) for lid in lines), 2)


def lst_price(env: Env, pid: int) -> float:
    rec = _rec(env, "product.product", pid)
    base = float(_rec(env, "product.template", rec["product_tmpl_id"]).get("list_price", 0.0))
    ptavs = env.store.tables["product.template.attribute.value"]
    extra = sum(
        ptavs[v].get("price_extra", 0.0)
        for v in rec.get("product_template_attribute_value_ids", [])
    )
    return round(base + float(extra), 2)
