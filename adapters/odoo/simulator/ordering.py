"""`order` specifications ("default_code asc, id desc"), checked and applied like Odoo 17:
the same validation regex and error, PostgreSQL's null placement (last ascending, first
descending) unless `nulls first|last` says otherwise, and many2one fields sorted by the
comodel's own default order, as Odoo joins and sorts them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from adapters.odoo.simulator.errors import invalid_field, user_error
from adapters.odoo.simulator.store import Env

_ORDER = re.compile(
    r'^(\s*([a-z0-9:_]+|"[a-z0-9:_]+")(\.id)?(\s+(desc|asc))?'
    r"(\s+(nulls first|nulls last))?\s*(,|$))+(?<!,)$",
    re.IGNORECASE,
)
_PARSED: dict[tuple[str, str], list[tuple[str, bool, bool]]] = {}


def parse_order(env: Env, model: str, order: str) -> list[tuple[str, bool, bool]]:
    """[(field, descending, nulls_first)], validated against the model's fields."""
    cached = _PARSED.get((model, order))
    if cached is not None:
        return cached
    if not _ORDER.match(order):
        raise user_error(
            f'Invalid "order" specified ({order}). A valid "order" specification is a '
            "comma-separated list of valid field names (optionally followed by asc/desc for"
            " the direction)"
        )
    fields = env.store.models[model].fields
    keys = []
    for part in order.split(","):
        words = part.split()
        name = words[0].strip('"').removesuffix(".id")
        if name not in fields:
            raise invalid_field(model, name)
        descending = len(words) > 1 and words[1].lower() == "desc"
        nulls = " ".join(words[-2:]).lower() if len(words) > 2 else ""
        nulls_first = nulls == "nulls first" or (nulls != "nulls last" and descending)
        keys.append((name, descending, nulls_first))
    _PARSED[(model, order)] = keys
    return keys


def _value(env: Env, model: str, name: str, ids: list[int], depth: int) -> Callable[[int], Any]:
    f = env.store.models[model].fields[name]
    get = env.store.get
    if f.type == "many2one" and f.relation:
        # ORDER BY a many2one sorts by the comodel's own order: rank the targets by it
        targets = sorted({t for rid in ids if (t := get(env, model, rid, name))})
        ranked = sort_ids(env, f.relation, targets, None, depth + 1) if depth < 3 else targets
        rank = {target: position for position, target in enumerate(ranked)}
        return lambda rid: rank.get(get(env, model, rid, name))
    if f.type in ("one2many", "many2many"):
        return lambda rid: None
    return lambda rid: get(env, model, rid, name)


def sort_ids(env: Env, model: str, ids: list[int], order: str | None, depth: int = 0) -> list[int]:
    keys = parse_order(env, model, order or env.store.models[model].order)
    result = list(ids)
    for name, descending, nulls_first in reversed(keys):
        if name == "id":
            result.sort(reverse=descending)
            continue
        value = _value(env, model, name, result, depth)
        boolean = env.store.models[model].fields[name].type == "boolean"
        # the null flag sorts nulls where PostgreSQL puts them, whatever the direction
        null_flag = 0 if nulls_first != descending else 1

        def key(
            rid: int,
            value: Callable[[int], Any] = value,
            null_flag: int = null_flag,
            boolean: bool = boolean,
        ) -> Any:
            v = value(rid)
            if v is None or v == "" or (v is False and not boolean):
                return (null_flag, 0)
            return (1 - null_flag, v)

        result.sort(key=key, reverse=descending)
    return result
