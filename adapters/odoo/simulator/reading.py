"""read / search / search_read / search_count / fields_get / name_search / default_get with
Odoo 17's value shapes: many2one `[id, display_name]` (or the bare id with `load=None`) or
`false`, x2many lists of ids (archived records left out unless `active_test` is off), unset
char/date/selection fields `false`, floats `0.0`, datetimes "YYYY-MM-DD HH:MM:SS" in UTC.
Records that no longer exist are silently left out of `read`, as `_read_format` does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.odoo.simulator.compute import display_name
from adapters.odoo.simulator.convert import as_ids
from adapters.odoo.simulator.domain import name_search_ids, search
from adapters.odoo.simulator.errors import invalid_field
from adapters.odoo.simulator.fields import Field
from adapters.odoo.simulator.ordering import sort_ids
from adapters.odoo.simulator.store import Env, empty_value

Formatter = Callable[[int], Any]


def _formatter(env: Env, model: str, f: Field, load: Any) -> Formatter:  # noqa: PLR0911
    store = env.store
    name = f.name
    if name == "id":
        return lambda rid: rid
    if f.type == "many2one":
        assert f.relation
        comodel = f.relation
        cotable = store.tables[comodel]
        raw = _raw(env, model, f)
        if load != "_classic_read":
            return lambda rid: v if (v := raw(rid)) and v in cotable else False

        def pair(rid: int) -> Any:
            value = raw(rid)
            if not value or value not in cotable:
                return False
            return [value, display_name(env, comodel, value)]

        return pair
    if f.type in ("one2many", "many2many"):
        assert f.relation
        comodel = f.relation
        filtered = f.type == "many2many" and env.active_test and store.models[comodel].has_active

        def ids(rid: int) -> list[int]:
            values = [i for i in store.get(env, model, rid, name) if i in store.tables[comodel]]
            if filtered:
                values = [i for i in values if store.is_active(comodel, i)]
            return sort_ids(env, comodel, values, None) if len(values) > 1 else values

        return ids
    raw = _raw(env, model, f)
    if f.type in ("float", "monetary"):
        return lambda rid: float(raw(rid) or 0.0)
    if f.type == "integer":
        return lambda rid: int(raw(rid) or 0)
    if f.type == "boolean":
        return lambda rid: bool(raw(rid))
    return lambda rid: False if (v := raw(rid)) is None else v


def _raw(env: Env, model: str, f: Field) -> Formatter:
    name = f.name
    if f.store:
        table = env.store.tables[model]
        empty = empty_value(f)
        return lambda rid: table[rid].get(name, empty)
    store = env.store
    return lambda rid: store.get(env, model, rid, name)


def read(
    env: Env, model: str, ids: Any, *, fields: Any = None, load: Any = "_classic_read"
) -> list[dict[str, Any]]:
    ids = as_ids(ids)
    mdef = env.store.models[model]
    names = list(fields) if fields else list(mdef.fields)
    for name in names:
        if name not in mdef.fields:
            raise invalid_field(model, name)
    formatters = [
        (name, _formatter(env, model, mdef.fields[name], load)) for name in names if name != "id"
    ]
    table = env.store.tables[model]
    rows = []
    for rid in ids:
        if rid not in table:
            continue
        row: dict[str, Any] = {"id": rid}
        for name, fmt in formatters:
            row[name] = fmt(rid)
        rows.append(row)
    return rows


def search_ids(
    env: Env, model: str, domain: Any, *, offset: Any = 0, limit: Any = None, order: Any = None
) -> list[int]:
    ids = search(env, model, domain)
    ids = sort_ids(env, model, ids, order or None)
    start = int(offset or 0)
    if limit:
        return ids[start : start + int(limit)]
    return ids[start:] if start else ids


def search_read(
    env: Env,
    model: str,
    *,
    domain: Any = None,
    fields: Any = None,
    offset: Any = 0,
    limit: Any = None,
    order: Any = None,
    load: Any = "_classic_read",
) -> list[dict[str, Any]]:
    mdef = env.store.models[model]
    for name in fields or ():
        if name not in mdef.fields:
            raise invalid_field(model, name)
    ids = search_ids(env, model, domain or [], offset=offset, limit=limit, order=order)
    if not ids:
        return []
    return read(env, model, ids, fields=fields, load=load)


def search_count(env: Env, model: str, *, domain: Any, limit: Any = None) -> int:
    count = len(search(env, model, domain))
    return min(count, int(limit)) if limit else count


def name_search(
    env: Env,
    model: str,
    *,
    name: Any = "",
    args: Any = None,
    operator: Any = "ilike",
    limit: Any = 100,
) -> list[list[Any]]:
    ids = name_search_ids(env, model, name or "", operator or "ilike")
    if args:
        allowed = set(search(env, model, args))
        ids = [i for i in ids if i in allowed]
    ids = sort_ids(env, model, ids, None)
    if limit:
        ids = ids[: int(limit)]
    return [[rid, display_name(env, model, rid)] for rid in ids]


def fields_get(
    env: Env, model: str, *, allfields: Any = None, attributes: Any = None
) -> dict[str, Any]:
    mdef = env.store.models[model]
    result: dict[str, Any] = {}
    for name, f in mdef.fields.items():
        if allfields and name not in allfields:
            continue
        stored = f.store or bool(f.inherited_from) or f.type == "one2many"
        desc: dict[str, Any] = {
            "name": name,
            "type": f.type,
            "string": f.string,
            "help": f.help,
            "readonly": bool(f.readonly or f.compute is not None),
            "required": f.required,
            "store": f.store or bool(f.inherited_from),
            "searchable": True,
            "sortable": stored and f.type not in ("one2many", "many2many"),
            "groupable": f.store,
            "manual": f.manual,
            "company_dependent": False,
            "depends": [],
            "exportable": True,
            "change_default": False,
            "translate": False,
        }
        if f.relation:
            desc["relation"] = f.relation
            desc["context"] = {}
            desc["domain"] = []
        if f.type == "one2many":
            desc["relation_field"] = f.inverse
        if f.selection is not None:
            desc["selection"] = [list(pair) for pair in f.selection]
        if f.size:
            desc["size"] = f.size
        if f.inherited_from:
            desc["related"] = f"{env.store.models[model].inherits[1]}.{name}"  # type: ignore[index]
        if attributes:
            desc = {k: v for k, v in desc.items() if k in attributes}
        result[name] = desc
    return result


def default_get(env: Env, model: str, fields_list: Any) -> dict[str, Any]:
    fields = env.store.models[model].fields
    result: dict[str, Any] = {}
    for name in fields_list or ():
        f = fields.get(name)
        if f is None or f.default is None or f.type == "many2many":
            continue
        result[name] = f.default(env) if callable(f.default) else f.default
    return result
