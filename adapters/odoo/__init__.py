"""Odoo 17 backend: the adapter speaks Odoo's external JSON-RPC API (`POST /jsonrpc`, services
`common` and `object`, `execute_kw`). `adapters.odoo.simulator` is a faithful, stateful stand-in
for an Odoo 17 server, seeded with the demo data set, for tests and benchmarks; see its
docstring for where each canonical field lives in Odoo and for its fault-injection API."""

from adapters.odoo.backend import OdooBackend
from adapters.odoo.settings import OdooSecrets, OdooSettings

__all__ = ["OdooBackend", "OdooSecrets", "OdooSettings"]
