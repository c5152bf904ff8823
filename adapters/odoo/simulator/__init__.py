"""A stateful Odoo 17 server simulator speaking Odoo's external JSON-RPC API over real HTTP,
seeded with the demo data set (see `seed` for where each canonical field lives).

Run it: `python -m adapters.odoo.simulator --port 8069 [--database demo --login admin
--password admin]`, or `run(port)` / `create_app()` (a plain ASGI app) from `app`.

Odoo protocol (what an adapter talks to)
    POST /jsonrpc  {"jsonrpc": "2.0", "method": "call", "id": n,
                    "params": {"service": "common" | "object" | "db", "method": ..., "args": [...]}}
    common.version / common.authenticate(db, login, password, {}) -> uid or false / common.login
    object.execute_kw(db, uid, password, model, method, args, kwargs): search, search_count,
    read, search_read, create, write, unlink, fields_get, name_search, default_get;
    sale.order action_confirm / action_cancel / action_draft; stock.quant action_apply_inventory;
    stock.picking button_validate (a confirmed order's delivery; see `pickings`).
    Errors answer HTTP 200 with {"error": {"code": 200, "message": "Odoo Server Error",
    "data": {"name", "message", "arguments", "debug", "context"}}} (see `errors`, `orm`, `rpc`).
    Models: res.company, res.currency, res.country, res.users, res.partner(.category), uom.uom,
    product.category, product.attribute(.value), product.template(.attribute.line/.value),
    product.product, stock.warehouse, stock.location, stock.quant, stock.move, stock.picking,
    sale.order(.line).

Control API (not part of Odoo; never faulted, never counted)
    GET    /_sim/health   {"ok": true, "database": ..., "server_version": "17.0"}
    GET    /_sim/stats    {"requests", "dispatched", "by_service",
                           "by_method" ("object.execute_kw"), "by_model",
                           "calls" ("product.product.search_read"), "errors" (error envelopes
                           answered, by exception name), "faults" (how often each fault acted),
                           "per_second" (requests per unix second, last 300 s),
                           "first_request_at", "last_request_at"}. Every JSON-RPC request is
                           counted on arrival, also those a fault turns away; "dispatched" counts
                           those that reached the Odoo dispatcher.
    POST   /_sim/reset    clear all faults and counters; {"data": true} also re-seeds the database.
    GET    /_sim/faults   the active faults.
    DELETE /_sim/faults   clear all faults (counters stay).
    POST   /_sim/faults   set faults; keys not given stay as they are, a key set to null clears
                          that fault. Triggered faults take {"count": n} (the next n requests),
                          {"fraction": f} (that share of requests, sampled with a seedable RNG:
                          "seed": 42), both (n times, each with chance f) or neither (always).
                          rate_limit and triggered faults may be narrowed to some calls:
                          "models": ["sale.order"], "methods": ["create", "action_confirm"]
                          (model methods of execute_kw, or "common.authenticate" and the like).
        {"latency_ms": 50, "jitter_ms": 10}      delay every request (uniform +-jitter)
        {"rate_limit": {"rps": 20, "burst": 20}} token bucket; over it: HTTP 429, Retry-After (s)
        {"rate_limit": {"rps": 50, "models": ["sale.order"], "methods": ["create"]}}
                                                 ... only for those calls (an ERP taking 50
                                                 orders/s while reads flow freely)
        {"error": {"name": "odoo.exceptions.UserError", "message": "...", "count": 2}}
                                                 answer an Odoo error envelope (HTTP 200) instead
        {"http_error": {"status": 502, "fraction": 0.1}}  answer a bare HTTP error (a proxy's)
        {"timeout": {"seconds": 5, "count": 1}}  hold the request that long, then answer it
        {"drop": {"count": 1}}                   close the connection without answering
        {"down": {"mode": "503", "seconds": 2}}  answer HTTP 503 + Retry-After (until cleared if
                                                 no "seconds")
        {"down": {"mode": "refuse", "seconds": 2}}  stop listening (new connections are refused)
                                                 and drop requests on open connections, for that
                                                 long (default 1 s); needs the server started by
                                                 `run()`, else requests are only dropped.
    Faults apply in this order: down, rate_limit, drop, timeout, latency, http_error, error.
"""

from adapters.odoo.simulator.app import SimulatorApp, create_app, run

__all__ = ["SimulatorApp", "create_app", "run"]
