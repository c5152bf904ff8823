"""The registry: every model with Odoo's magic fields (`id`, `display_name`, `create_date`,
`create_uid`, `write_date`, `write_uid`) and, for `_inherits` models, the delegated fields of
the parent."""

from __future__ import annotations

from adapters.odoo.simulator import compute as c
from adapters.odoo.simulator.fields import Field, ModelDef, computed, datetime_, integer, many2one
from adapters.odoo.simulator.schema_base import base_models
from adapters.odoo.simulator.schema_catalog import catalog_models
from adapters.odoo.simulator.schema_sale import sale_models
from adapters.odoo.simulator.schema_stock import stock_models
from adapters.odoo.simulator.store import Env


def _display(model: str) -> Field:
    def compute(env: Env, rid: int) -> str:
        return c.display_name(env, model, rid)

    return computed("char", "Display Name", compute)


def build_registry() -> dict[str, ModelDef]:
    models = {
        m.name: m for m in (*base_models(), *catalog_models(), *stock_models(), *sale_models())
    }
    for mdef in models.values():
        magic: dict[str, Field] = {
            "id": integer("ID", readonly=True),
            "display_name": _display(mdef.name),
            "create_date": datetime_("Created on", readonly=True),
            "create_uid": many2one("res.users", "Created by", readonly=True),
            "write_date": datetime_("Last Updated on", readonly=True),
            "write_uid": many2one("res.users", "Last Updated by", readonly=True),
        }
        for name, f in magic.items():
            mdef.fields.setdefault(name, f)
    for mdef in models.values():
        if mdef.inherits:
            parent = models[mdef.inherits[0]]
            for name, f in parent.fields.items():
                if name not in mdef.fields:
                    mdef.fields[name] = Field(
                        f.type,
                        f.string,
                        relation=f.relation,
                        inverse=f.inverse,
                        required=f.required,
                        readonly=f.readonly,
                        selection=f.selection,
                        default=f.default,
                        help=f.help,
                        size=f.size,
                        inherited_from=parent.name,
                    )
    for mdef in models.values():
        for name, f in mdef.fields.items():
            f.name = name
    return models
