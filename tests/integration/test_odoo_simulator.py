"""The Odoo 17 simulator as a real process on loopback, driven over JSON-RPC with httpx: Odoo's
protocol and value shapes, the demo data as an Odoo database holds it, sales with stock
reservation, error envelopes, and every fault mode of the `/_sim` control API."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters._demo import demo_dataset

ROOT = Path(__file__).resolve().parents[2]
DB, UID, PASSWORD = "demo", 2, "admin"
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["data"]["message"])
        self.error = error
        self.name = error["data"]["name"]
        self.message = error["data"]["message"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(port: int, *extra: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "adapters.odoo.simulator", "--port", str(port), *extra],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"simulator exited: {log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_sim/health", timeout=0.5).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    pytest.fail(f"simulator did not start: {log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    process = start(port, log=tmp_path_factory.mktemp("odoo") / "simulator.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


class Odoo:
    def __init__(self, base_url: str) -> None:
        self.url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.ids = iter(range(1, 1_000_000))

    def post(
        self, service: str, method: str, *args: Any, timeout: float | None = None
    ) -> httpx.Response:
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": list(args)},
            "id": next(self.ids),
        }
        return self.http.post("/jsonrpc", json=payload, timeout=timeout or 10)

    def call(self, service: str, method: str, *args: Any) -> Any:
        reply = self.post(service, method, *args)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["jsonrpc"] == "2.0"
        if "error" in body:
            assert body["error"]["code"] == 200
            assert body["error"]["message"] == "Odoo Server Error"
            assert set(body["error"]["data"]) == {
                "name",
                "message",
                "arguments",
                "debug",
                "context",
            }
            raise RpcError(body["error"])
        return body.get("result")

    def execute(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.call(
            "object", "execute_kw", DB, UID, PASSWORD, model, method, list(args), kwargs
        )

    def faults(self, **spec: Any) -> dict[str, Any]:
        reply = self.http.post("/_sim/faults", json=spec)
        assert reply.status_code == 200, reply.text
        return reply.json()  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        return self.http.get("/_sim/stats").json()  # type: ignore[no-any-return]


@pytest.fixture
def odoo(base_url: str) -> Iterator[Odoo]:
    client = Odoo(base_url)
    client.http.post("/_sim/reset").raise_for_status()
    try:
        yield client
    finally:
        client.http.post("/_sim/reset")
        client.http.close()


def pick_stock_sku() -> str:
    """A sellable sku stocked in all three locations, with reserved and incoming stock."""
    data = demo_dataset()
    active = {v.sku for p in data.products if p.status == "active" for v in p.variants}
    rows: dict[str, list[Any]] = {}
    for row in data.stock:
        rows.setdefault(row.sku, []).append(row)
    for sku, stock in rows.items():
        dc1 = next(r for r in stock if r.location == "DC1")
        if sku in active and len(stock) == 3 and dc1.reserved and dc1.incoming and dc1.on_hand > 10:
            return sku
    raise AssertionError("no suitable sku in the demo data")


# -- protocol ---------------------------------------------------------------------------------


def test_version_and_authenticate(odoo: Odoo) -> None:
    version = odoo.call("common", "version")
    assert version["server_version"] == "17.0"
    assert version["server_version_info"][:2] == [17, 0]
    assert version["protocol_version"] == 1
    assert odoo.call("common", "authenticate", DB, "admin", "admin", {}) == UID
    assert odoo.call("common", "login", DB, "admin", "admin") == UID
    assert odoo.call("common", "authenticate", DB, "admin", "wrong", {}) is False
    assert odoo.call("common", "authenticate", DB, "nobody", "admin", {}) is False
    with pytest.raises(RpcError) as unknown_db:
        odoo.call("common", "authenticate", "nodb", "admin", "admin", {})
    assert unknown_db.value.name == "psycopg2.OperationalError"
    assert 'database "nodb" does not exist' in unknown_db.value.message


def test_every_call_rechecks_credentials(odoo: Odoo) -> None:
    for uid, password in ((UID, "wrong"), (99, PASSWORD), (False, PASSWORD)):
        with pytest.raises(RpcError) as denied:
            odoo.call("object", "execute_kw", DB, uid, password, "res.partner", "search", [[]], {})
        assert denied.value.name == "odoo.exceptions.AccessDenied"
        assert denied.value.message == "Access Denied"


def test_error_envelopes_name_what_odoo_raises(odoo: Odoo) -> None:
    cases = [  # (model, method, positional args), exception name, message
        (("res.partnerx", "search", [[]]), "odoo.exceptions.UserError", "Object res.partnerx doesn't exist"),
        (("res.partner", "search_read", [[["nope", "=", 1]]]), "builtins.ValueError",
         "Invalid field res.partner.nope in leaf ('nope', '=', 1)"),
        (("product.product", "search", [[["product_tmpl_id.nope", "=", 1]]]), "builtins.ValueError",
         "Invalid field product.template.nope in leaf ('nope', '=', 1)"),
        (("res.partner", "frobnicate", []), "builtins.AttributeError",
         "The method 'frobnicate' does not exist on the model 'res.partner'"),
        (("res.partner", "_private", []), "odoo.exceptions.AccessError",
         "Private methods (such as _private) cannot be called remotely."),
        (("res.partner", "search", ["not a domain"]), "builtins.AssertionError",
         "Domains to normalize must have a 'domain' form: a list or tuple of domain components"),
        (("res.partner", "search", [["&", ["name", "=", "x"]]]), "builtins.ValueError",
         "Domain ['&', ['name', '=', 'x']] is syntactically not correct."),
        (("res.partner", "search", [[["name", "~", "x"]]]), "builtins.ValueError",
         "Invalid leaf ('name', '~', 'x')"),
        (("res.partner", "search", []), "builtins.TypeError",
         "BaseModel.search() missing 1 required positional argument: 'domain'"),
    ]  # fmt: skip
    for (model, method, args), name, message in cases:
        with pytest.raises(RpcError) as failed:
            odoo.execute(model, method, *args)
        assert (failed.value.name, failed.value.message) == (name, message)
    with pytest.raises(RpcError) as bad_field:
        odoo.execute("res.partner", "search_read", [], fields=["name", "nope"])
    assert bad_field.value.name == "builtins.ValueError"
    assert bad_field.value.message == "Invalid field 'nope' on model 'res.partner'"
    with pytest.raises(RpcError) as bad_order:
        odoo.execute("res.partner", "search", [], order="name; drop table")
    assert bad_order.value.name == "odoo.exceptions.UserError"
    assert bad_order.value.message.startswith('Invalid "order" specified')
    with pytest.raises(RpcError) as clash:
        odoo.execute("res.partner", "search", [], domain=[])
    assert clash.value.name == "builtins.TypeError"
    assert "multiple values for argument 'domain'" in clash.value.message


def test_http_level_errors(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as http:
        assert http.post("/jsonrpc", content=b"{not json").status_code == 400
        assert http.get("/jsonrpc").status_code == 405
        reply = http.post(
            "/jsonrpc",
            json={
                "jsonrpc": "2.0",
                "id": 7,
                "params": {"service": "nope", "method": "x", "args": []},
            },
        )
        assert reply.json()["id"] == 7
        assert reply.json()["error"]["data"]["name"] == "builtins.KeyError"


# -- reading ----------------------------------------------------------------------------------


def test_search_read_fields_limit_offset_order(odoo: Odoo) -> None:
    product = demo_dataset().products[0]
    skus = sorted((v.sku for v in product.variants), reverse=True)
    domain = [["default_code", "=like", f"{product.code}-%"]]
    assert odoo.execute("product.product", "search_count", domain) == len(skus)
    rows = odoo.execute(
        "product.product", "search_read", domain, fields=["default_code", "lst_price"],
        offset=1, limit=3, order="default_code desc",
    )  # fmt: skip
    assert [r["default_code"] for r in rows] == skus[1:4]
    assert all(set(r) == {"id", "default_code", "lst_price"} for r in rows)
    assert all(isinstance(r["lst_price"], float) for r in rows)
    assert rows[0]["lst_price"] == float(product.variants[0].price)
    ids = odoo.execute("product.product", "search", domain, 0, 2, "id desc")
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == 2
    by_id = odoo.execute("product.product", "read", ids[::-1], ["default_code"])
    assert [r["id"] for r in by_id] == ids[::-1]
    assert odoo.execute("product.product", "read", [999_999], ["default_code"]) == []


def test_value_shapes(odoo: Odoo) -> None:
    product = demo_dataset().products[0]
    variant = product.variants[0]
    [row] = odoo.execute(
        "product.product", "search_read", [["barcode", "=", variant.barcode]],
        fields=["product_tmpl_id", "categ_id", "product_template_attribute_value_ids", "write_date",
                "x_compare_at_price", "display_name", "x_brand", "sale_ok", "active"],
    )  # fmt: skip
    template_id, template_name = row["product_tmpl_id"]
    assert template_name == f"[{product.code}] {product.title}"
    assert row["categ_id"][1] == f"All / {product.category}"
    assert row["display_name"].startswith(f"[{variant.sku}] {product.title}")
    assert all(isinstance(i, int) for i in row["product_template_attribute_value_ids"])
    assert DATETIME.match(row["write_date"])
    assert row["x_brand"] == product.brand
    expected_compare = float(variant.compare_at_price) if variant.compare_at_price else 0.0
    assert row["x_compare_at_price"] == expected_compare
    [bare] = odoo.execute("product.product", "read", [row["id"]], ["product_tmpl_id"], load=None)
    assert bare["product_tmpl_id"] == template_id
    values = odoo.execute(
        "product.template.attribute.value",
        "read",
        row["product_template_attribute_value_ids"],
        ["name", "attribute_id"],
    )
    assert {(v["attribute_id"][1], v["name"]) for v in values} == {
        ("Size", variant.options["size"]), ("Color", variant.options["color"]),
    }  # fmt: skip
    [customer] = odoo.execute(
        "res.partner", "search_read", [["ref", "=", "C00001"]],
        fields=["name", "street2", "country_id", "category_id", "child_ids", "customer_rank", "type"],
    )  # fmt: skip
    demo = demo_dataset().customers[0]
    assert customer["name"] == f"{demo.first_name} {demo.last_name}"
    assert customer["street2"] is False
    assert customer["country_id"][1] == "Netherlands"
    assert customer["child_ids"] == []
    assert customer["customer_rank"] == 1
    assert customer["type"] == "contact"


def test_dotted_paths_and_operators(odoo: Odoo) -> None:
    product = next(p for p in demo_dataset().products if len(p.variants) > 4)
    skus = {v.sku for v in product.variants}
    rows = odoo.execute(
        "product.product",
        "search_read",
        [["product_tmpl_id.default_code", "=", product.code]],
        fields=["default_code"],
    )
    assert {r["default_code"] for r in rows} == skus
    size = product.variants[0].options["size"]
    sized = odoo.execute(
        "product.product", "search_read",
        [["product_tmpl_id.default_code", "=", product.code], ["product_template_attribute_value_ids.name", "=", size]],
        fields=["default_code"],
    )  # fmt: skip
    assert {r["default_code"] for r in sized} == {
        v.sku for v in product.variants if v.options["size"] == size
    }
    some = sorted(skus)[:2]
    either = odoo.execute(
        "product.product",
        "search_read",
        ["|", ["default_code", "=", some[0]], ["default_code", "=", some[1]]],
        fields=["default_code"],
    )
    assert sorted(r["default_code"] for r in either) == some
    negated = odoo.execute(
        "product.product",
        "search_count",
        ["!", ["default_code", "in", some], ["product_tmpl_id.default_code", "=", product.code]],
    )
    assert negated == len(skus) - 2
    assert odoo.execute("product.product", "search_count", [["default_code", "in", some]]) == 2
    assert (
        odoo.execute("product.template", "search_count", [["name", "ilike", product.title.upper()]])
        >= 1
    )
    assert (
        odoo.execute(
            "product.template", "search_count", [["default_code", "=ilike", product.code.lower()]]
        )
        == 1
    )
    assert odoo.execute("res.partner", "search_count", [["ref", "=like", "C0000_"]]) == 9
    # negative operators also match unset values, as in SQL + Odoo
    with_ref = odoo.execute("res.partner", "search_count", [["ref", "!=", False]])
    assert (
        odoo.execute("res.partner", "search_count", [["ref", "!=", "C00001"]])
        == odoo.execute("res.partner", "search_count", []) - 1
    )
    assert with_ref == len(demo_dataset().customers)
    # many2one given as a name is a name_search on the comodel
    nl = odoo.execute(
        "res.partner",
        "search_count",
        [["country_id", "=", "Netherlands"], ["customer_rank", ">", 0]],
    )
    assert nl == sum(1 for c in demo_dataset().customers if c.addresses[0].country == "NL")
    [dc1] = odoo.execute(
        "stock.warehouse",
        "search_read",
        [["code", "=", "DC1"]],
        fields=["view_location_id", "lot_stock_id"],
    )
    below = odoo.execute(
        "stock.location", "search", [["id", "child_of", dc1["view_location_id"][0]]]
    )
    assert set(below) == {dc1["view_location_id"][0], dc1["lot_stock_id"][0]}
    assert (
        odoo.execute(
            "stock.location",
            "search_read",
            [["id", "=", dc1["lot_stock_id"][0]]],
            fields=["complete_name"],
        )[0]["complete_name"]
        == "DC1/Stock"
    )


def test_active_filtering(odoo: Odoo) -> None:
    archived = next(p for p in demo_dataset().products if p.status == "archived")
    draft = next(p for p in demo_dataset().products if p.status == "draft")
    code = [["default_code", "=", archived.code]]
    assert odoo.execute("product.template", "search", code) == []
    hidden = odoo.execute("product.template", "search", code, context={"active_test": False})
    assert len(hidden) == 1
    assert odoo.execute("product.template", "search", [*code, ["active", "=", False]]) == hidden
    assert (
        odoo.execute(
            "product.template",
            "search",
            ["|", ["active", "=", True], ["active", "=", False], *code],
        )
        == hidden
    )
    sku = archived.variants[0].sku
    assert odoo.execute("product.product", "search", [["default_code", "=", sku]]) == []
    [variant] = odoo.execute(
        "product.product",
        "search_read",
        [["default_code", "=", sku]],
        fields=["active"],
        context={"active_test": False},
    )
    assert variant["active"] is False
    [template] = odoo.execute("product.template", "read", hidden, ["active", "product_variant_ids"])
    assert template["active"] is False
    assert template["product_variant_ids"] == []  # archived variants hidden from the one2many
    [again] = odoo.execute(
        "product.template", "read", hidden, ["product_variant_ids"], context={"active_test": False}
    )
    assert len(again["product_variant_ids"]) == len(archived.variants)
    [d] = odoo.execute(
        "product.template",
        "search_read",
        [["default_code", "=", draft.code]],
        fields=["sale_ok", "active"],
    )
    assert (d["sale_ok"], d["active"]) == (False, True)


def test_stock_fields_per_warehouse_match_demo(odoo: Odoo) -> None:
    sku = pick_stock_sku()
    rows = {r.location: r for r in demo_dataset().stock if r.sku == sku}
    warehouses = odoo.execute("stock.warehouse", "search_read", [], fields=["code", "lot_stock_id"])
    assert [w["code"] for w in warehouses] == ["DC1", "STAMS", "STUTR"]
    [pid] = odoo.execute("product.product", "search", [["default_code", "=", sku]])
    fields = ["qty_available", "free_qty", "incoming_qty", "outgoing_qty", "virtual_available"]
    for warehouse, demo_code in zip(warehouses, ("DC1", "ST-AMS", "ST-UTR"), strict=True):
        demo = rows[demo_code]
        for context in ({"warehouse": warehouse["id"]}, {"location": warehouse["lot_stock_id"][0]}):
            [row] = odoo.execute("product.product", "read", [pid], fields, context=context)
            assert row["qty_available"] == demo.on_hand
            assert row["free_qty"] == demo.on_hand - demo.reserved
            assert row["incoming_qty"] == demo.incoming
            assert row["virtual_available"] == demo.on_hand + demo.incoming
        [quant] = odoo.execute(
            "stock.quant", "search_read", [["product_id", "=", pid], ["location_id", "=", warehouse["lot_stock_id"][0]]],
            fields=["quantity", "reserved_quantity", "available_quantity"],
        )  # fmt: skip
        assert (quant["quantity"], quant["reserved_quantity"]) == (demo.on_hand, demo.reserved)
    [total] = odoo.execute("product.product", "read", [pid], ["qty_available", "incoming_qty"])
    assert total["qty_available"] == sum(r.on_hand for r in rows.values())
    assert total["incoming_qty"] == sum(r.incoming for r in rows.values())
    [by_name] = odoo.execute(
        "product.product",
        "read",
        [pid],
        ["qty_available"],
        context={"warehouse": "Store Amsterdam"},
    )
    assert by_name["qty_available"] == rows["ST-AMS"].on_hand
    moves = odoo.execute(
        "stock.move",
        "search_read",
        [["product_id", "=", pid], ["location_id.usage", "=", "supplier"]],
        fields=["state", "product_uom_qty"],
    )
    assert [(m["state"], m["product_uom_qty"]) for m in moves] == [
        ("assigned", rows["DC1"].incoming)
    ]


def test_fields_get_and_name_search(odoo: Odoo) -> None:
    fields = odoo.execute(
        "sale.order", "fields_get", attributes=["type", "relation", "required", "selection"]
    )
    assert fields["partner_id"] == {"type": "many2one", "relation": "res.partner", "required": True}
    assert ["sale", "Sales Order"] in fields["state"]["selection"]
    assert fields["order_line"]["type"] == "one2many"
    custom = odoo.execute("product.template", "fields_get", ["x_brand"])
    assert custom["x_brand"]["manual"] is True
    sku = demo_dataset().products[0].variants[0].sku
    found = odoo.execute("product.product", "name_search", sku, limit=5)
    assert found[0][1].startswith(f"[{sku}]")


# -- writing ----------------------------------------------------------------------------------


def test_create_write_and_x2many_commands(odoo: Odoo) -> None:
    [consent] = odoo.execute("res.partner.category", "search", [["name", "=", "Marketing consent"]])
    [nl] = odoo.execute("res.country", "search", [["code", "=", "NL"]])
    pid = odoo.execute("res.partner", "create", {
        "name": "Test Company", "is_company": True, "street": "Damrak 1", "city": "Amsterdam", "country_id": nl,
        "child_ids": [[0, 0, {"name": "Jan Test", "email": "jan@example.com"}],
                      [0, 0, {"type": "delivery", "street": "Dock 4", "city": "Rotterdam"}]],
    })  # fmt: skip
    assert isinstance(pid, int)
    [company] = odoo.execute(
        "res.partner", "read", [pid], ["child_ids", "write_date", "category_id"]
    )
    # one2many values follow the comodel's order: res.partner sorts by complete name
    dock, jan = company["child_ids"]
    [jan_row, dock_row] = odoo.execute(
        "res.partner", "read", [jan, dock], ["display_name", "street", "parent_id"]
    )
    assert jan_row["display_name"] == "Test Company, Jan Test"
    assert jan_row["street"] == "Damrak 1"  # contacts inherit the company address
    assert dock_row["display_name"] == "Test Company, Delivery Address"
    assert dock_row["parent_id"] == [pid, "Test Company"]
    assert (
        odoo.execute(
            "res.partner",
            "write",
            [pid],
            {
                "category_id": [[6, 0, [consent]]],
                "child_ids": [[1, jan, {"phone": "+31 20"}], [2, dock]],
            },
        )
        is True
    )
    [after] = odoo.execute("res.partner", "read", [pid], ["child_ids", "category_id", "write_date"])
    assert after["child_ids"] == [jan]
    assert after["category_id"] == [consent]
    assert after["write_date"] >= company["write_date"]
    changed = [["write_date", ">=", after["write_date"]], ["is_company", "=", True]]
    assert pid in odoo.execute("res.partner", "search", changed)
    iso = [["write_date", ">=", after["write_date"].replace(" ", "T") + "+00:00"], ["id", "=", pid]]
    assert odoo.execute("res.partner", "search", iso) == [pid]
    assert odoo.execute("res.partner", "read", [jan], ["phone"])[0]["phone"] == "+31 20"
    assert odoo.execute("res.partner", "read", [dock], ["name"]) == []
    odoo.execute("res.partner", "write", [pid], {"category_id": [[3, consent]]})
    assert odoo.execute("res.partner", "read", [pid], ["category_id"])[0]["category_id"] == []
    odoo.execute("res.partner", "write", [pid], {"category_id": [[4, consent]]})
    assert odoo.execute("res.partner", "read", [pid], ["category_id"])[0]["category_id"] == [
        consent
    ]
    ids = odoo.execute("res.partner", "create", [{"name": "A"}, {"name": "B"}])
    assert isinstance(ids, list)
    assert len(ids) == 2
    with pytest.raises(RpcError) as missing:
        odoo.execute("res.partner", "write", [999_999], {"name": "x"})
    assert missing.value.name == "odoo.exceptions.MissingError"
    with pytest.raises(RpcError) as no_name:
        odoo.execute("res.partner", "create", {"email": "x@example.com"})
    assert no_name.value.name == "odoo.exceptions.ValidationError"
    with pytest.raises(RpcError) as bad_selection:
        odoo.execute("res.partner", "write", [pid], {"type": "bogus"})
    assert (bad_selection.value.name, bad_selection.value.message) == (
        "builtins.ValueError",
        "Wrong value for res.partner.type: 'bogus'",
    )
    with pytest.raises(RpcError) as dangling:
        odoo.execute("res.partner", "write", [pid], {"country_id": 999_999})
    assert dangling.value.name == "odoo.exceptions.ValidationError"
    assert odoo.execute("res.partner", "unlink", ids) is True


def test_sale_order_reserves_and_releases_stock(odoo: Odoo) -> None:
    sku = pick_stock_sku()
    dc1 = next(r for r in demo_dataset().stock if r.sku == sku and r.location == "DC1")
    [pid] = odoo.execute("product.product", "search", [["default_code", "=", sku]])
    [wh] = odoo.execute(
        "stock.warehouse", "search_read", [["code", "=", "DC1"]], fields=["lot_stock_id"]
    )
    [customer] = odoo.execute("res.partner", "search", [["ref", "=", "C00002"]])
    ref = f"GW-{time.time_ns()}"
    oid = odoo.execute("sale.order", "create", {
        "partner_id": customer, "client_order_ref": ref, "origin": "gateway",
        "order_line": [[0, 0, {"product_id": pid, "product_uom_qty": 2, "price_unit": 10.0}]],
    })  # fmt: skip
    [order] = odoo.execute(
        "sale.order",
        "read",
        [oid],
        ["name", "state", "amount_total", "partner_shipping_id", "order_line", "date_order"],
    )
    assert re.match(r"^S\d{5}$", order["name"])
    assert order["state"] == "draft"
    assert order["amount_total"] == 20.0
    assert order["partner_shipping_id"][0] == customer
    assert DATETIME.match(order["date_order"])
    assert odoo.execute("sale.order", "search", [["client_order_ref", "=", ref]]) == [oid]
    assert odoo.execute(
        "sale.order",
        "search",
        [["order_line.product_id.default_code", "=", sku], ["client_order_ref", "=", ref]],
    ) == [oid]
    assert odoo.execute("sale.order", "action_confirm", [oid]) is True
    assert odoo.execute("sale.order", "read", [oid], ["state"])[0]["state"] == "sale"
    quant_domain = [["product_id", "=", pid], ["location_id", "=", wh["lot_stock_id"][0]]]
    [quant] = odoo.execute("stock.quant", "search_read", quant_domain, fields=["reserved_quantity"])
    assert quant["reserved_quantity"] == dc1.reserved + 2
    [stock] = odoo.execute(
        "product.product",
        "read",
        [pid],
        ["free_qty", "outgoing_qty"],
        context={"warehouse": wh["id"]},
    )
    assert (stock["free_qty"], stock["outgoing_qty"]) == (dc1.on_hand - dc1.reserved - 2, 2)
    with pytest.raises(RpcError) as again:
        odoo.execute("sale.order", "action_confirm", [oid])
    assert (again.value.name, again.value.message) == (
        "odoo.exceptions.UserError",
        "Some orders are not in a state requiring confirmation.",
    )
    with pytest.raises(RpcError) as undeletable:
        odoo.execute("sale.order", "unlink", [oid])
    assert undeletable.value.name == "odoo.exceptions.UserError"
    wizard = odoo.execute("sale.order", "action_cancel", [oid])
    assert wizard["res_model"] == "sale.order.cancel"  # Odoo 17 asks first...
    assert odoo.execute("sale.order", "read", [oid], ["state"])[0]["state"] == "sale"
    assert (
        odoo.execute("sale.order", "action_cancel", [oid], context={"disable_cancel_warning": True})
        is True
    )
    assert odoo.execute("sale.order", "read", [oid], ["state"])[0]["state"] == "cancel"
    [released] = odoo.execute(
        "stock.quant", "search_read", quant_domain, fields=["reserved_quantity"]
    )
    assert released["reserved_quantity"] == dc1.reserved


def test_unsellable_product_rolls_the_order_back(odoo: Odoo) -> None:
    draft = next(p for p in demo_dataset().products if p.status == "draft")
    [pid] = odoo.execute(
        "product.product", "search", [["default_code", "=", draft.variants[0].sku]]
    )
    [customer] = odoo.execute("res.partner", "search", [["ref", "=", "C00003"]])
    ref = f"GW-{time.time_ns()}"
    with pytest.raises(RpcError) as refused:
        odoo.execute(
            "sale.order",
            "create",
            {
                "partner_id": customer,
                "client_order_ref": ref,
                "order_line": [[0, 0, {"product_id": pid}]],
            },
        )
    assert refused.value.name == "odoo.exceptions.ValidationError"
    assert odoo.execute("sale.order", "search_count", [["client_order_ref", "=", ref]]) == 0


def test_inventory_adjustments(odoo: Odoo) -> None:
    sku = demo_dataset().products[1].variants[0].sku
    [pid] = odoo.execute("product.product", "search", [["default_code", "=", sku]])
    [qid] = odoo.execute(
        "stock.quant",
        "search",
        [["product_id", "=", pid], ["location_id.complete_name", "=", "DC1/Stock"]],
    )
    with pytest.raises(RpcError) as restricted:
        odoo.execute(
            "stock.quant", "write", [qid], {"location_id": 1}, context={"inventory_mode": True}
        )
    assert restricted.value.message == "Quant's editing is restricted, you can't do this operation."
    odoo.execute("stock.quant", "write", [qid], {"inventory_quantity": 321})
    assert odoo.execute("stock.quant", "action_apply_inventory", [qid]) is None
    [row] = odoo.execute("stock.quant", "read", [qid], ["quantity", "inventory_quantity_set"])
    assert (row["quantity"], row["inventory_quantity_set"]) == (321.0, False)
    odoo.execute("stock.quant", "write", [qid], {"inventory_quantity_auto_apply": 7})
    [stock] = odoo.execute(
        "product.product", "read", [pid], ["qty_available"], context={"warehouse": "Tilburg"}
    )
    assert stock["qty_available"] == 7.0
    adjustments = odoo.execute(
        "stock.move",
        "search_read",
        [["product_id", "=", pid], ["state", "=", "done"]],
        fields=["product_uom_qty", "location_dest_id"],
    )
    assert [m["product_uom_qty"] for m in adjustments] == [abs(321 - demo_on_hand(sku)), 314.0]


def demo_on_hand(sku: str) -> int:
    return next(r.on_hand for r in demo_dataset().stock if r.sku == sku and r.location == "DC1")


# -- faults and counters ----------------------------------------------------------------------


def test_stats_count_what_arrived_and_reset(odoo: Odoo) -> None:
    for _ in range(3):
        odoo.execute("product.product", "search_read", [], fields=["id"], limit=1)
    odoo.call("common", "authenticate", DB, "admin", "admin", {})
    with pytest.raises(RpcError):
        odoo.execute("nope.model", "search", [])
    stats = odoo.stats()
    assert stats["requests"] == stats["dispatched"] == 5
    assert stats["calls"] == {"product.product.search_read": 3, "nope.model.search": 1}
    assert stats["by_method"] == {"object.execute_kw": 4, "common.authenticate": 1}
    assert stats["by_service"] == {"object": 4, "common": 1}
    assert stats["errors"] == {"odoo.exceptions.UserError": 1}
    odoo.http.post("/_sim/reset").raise_for_status()
    assert odoo.stats()["requests"] == 0


def test_fault_latency(odoo: Odoo) -> None:
    odoo.call("common", "version")
    odoo.faults(latency_ms=300)
    started = time.perf_counter()
    odoo.call("common", "version")
    assert time.perf_counter() - started >= 0.25  # a delay can only add: safe on a busy host
    assert odoo.stats()["faults"].get("latency") == 1
    odoo.http.post("/_sim/reset")
    odoo.call("common", "version")
    assert odoo.stats()["faults"].get("latency", 0) == 0  # reset: no delay applied any more


def test_fault_rate_limit(odoo: Odoo) -> None:
    odoo.faults(rate_limit={"rps": 0.1, "burst": 2})  # slow refill: no token comes back in-test
    replies = [odoo.post("common", "version") for _ in range(6)]
    limited = [r for r in replies if r.status_code == 429]
    assert len(limited) >= 3
    assert all(int(r.headers["retry-after"]) >= 1 for r in limited)
    assert replies[0].status_code == 200
    assert odoo.stats()["faults"]["rate_limited"] == len(limited)


def test_faults_narrowed_to_some_calls(odoo: Odoo) -> None:
    odoo.faults(
        rate_limit={"rps": 0.1, "burst": 1, "models": ["sale.order"], "methods": ["search_count"]}
    )
    assert all(odoo.post("common", "version").status_code == 200 for _ in range(4))
    assert odoo.execute("sale.order", "search_count", []) >= 0
    assert odoo.execute("sale.order", "search", []) is not None  # another method: not limited
    with pytest.raises(AssertionError, match="429"):
        odoo.execute("sale.order", "search_count", [])
    odoo.faults(rate_limit=None, error={"models": ["res.partner"], "count": 1})
    assert odoo.execute("product.product", "search_count", []) > 0
    with pytest.raises(RpcError) as injected:
        odoo.execute("res.partner", "search_count", [])
    assert injected.value.name == "odoo.exceptions.UserError"
    assert odoo.execute("res.partner", "search_count", []) > 0


def test_fault_error_envelopes(odoo: Odoo) -> None:
    odoo.faults(error={"name": "odoo.exceptions.ValidationError", "message": "boom", "count": 2})
    for _ in range(2):
        with pytest.raises(RpcError) as injected:
            odoo.execute("res.partner", "search", [])
        assert (injected.value.name, injected.value.message) == (
            "odoo.exceptions.ValidationError",
            "boom",
        )
    assert odoo.execute("res.partner", "search_count", []) > 0
    odoo.faults(error={"name": "odoo.exceptions.AccessDenied", "fraction": 0.5}, seed=7)
    bodies = [odoo.post("common", "version").json() for _ in range(40)]
    denied = [b["error"]["data"] for b in bodies if "error" in b]
    assert 5 < len(denied) < 35
    assert {(d["name"], d["message"]) for d in denied} == {
        ("odoo.exceptions.AccessDenied", "Access Denied")
    }
    assert odoo.stats()["errors"]["odoo.exceptions.AccessDenied"] == len(denied)


def test_fault_http_error(odoo: Odoo) -> None:
    odoo.faults(http_error={"status": 502, "count": 1})
    assert odoo.post("common", "version").status_code == 502
    assert odoo.post("common", "version").status_code == 200


def test_fault_timeout(odoo: Odoo) -> None:
    odoo.faults(timeout={"seconds": 1.5, "count": 1})
    with pytest.raises(httpx.ReadTimeout):
        odoo.post("common", "version", timeout=0.3)
    assert odoo.call("common", "version")["server_version"] == "17.0"
    assert odoo.stats()["faults"]["timeout"] == 1


def test_fault_dropped_connection(odoo: Odoo) -> None:
    odoo.faults(drop={"count": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        odoo.post("common", "version")
    assert odoo.call("common", "version")["server_version"] == "17.0"
    assert odoo.stats()["faults"]["dropped"] == 1


def test_fault_down_503_then_reset(odoo: Odoo) -> None:
    odoo.faults(down={"mode": "503"})
    reply = odoo.post("common", "version")
    assert reply.status_code == 503
    assert int(reply.headers["retry-after"]) >= 1
    assert odoo.faults()["down"]["mode"] == "503"
    assert odoo.http.delete("/_sim/faults").json()["down"] is None
    assert odoo.post("common", "version").status_code == 200


def test_fault_down_refuses_connections(odoo: Odoo) -> None:
    odoo.faults(down={"mode": "refuse", "seconds": 1.0})
    with httpx.Client(base_url=odoo.url, timeout=2) as fresh, pytest.raises(httpx.ConnectError):
        fresh.get("/_sim/health")
    time.sleep(1.3)
    with httpx.Client(base_url=odoo.url, timeout=2) as fresh:
        assert fresh.get("/_sim/health").status_code == 200
    assert odoo.faults()["down"] is None


def test_cli_options(tmp_path: Path) -> None:
    port = free_port()
    process = start(
        port,
        "--database",
        "shop",
        "--login",
        "api",
        "--password",
        "s3cret",
        log=tmp_path / "cli.log",
    )
    try:
        client = Odoo(f"http://127.0.0.1:{port}")
        assert client.call("common", "authenticate", "shop", "api", "s3cret", {}) == UID
        assert client.call("common", "authenticate", "shop", "admin", "admin", {}) is False
        assert (
            client.call(
                "object",
                "execute_kw",
                "shop",
                UID,
                "s3cret",
                "res.users",
                "read",
                [[UID], ["login"]],
                {},
            )[0]["login"]
            == "api"
        )
        client.http.close()
    finally:
        stop(process)
