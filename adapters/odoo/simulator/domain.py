"""Odoo domains, evaluated in memory with Odoo 17's semantics (`odoo/osv/expression.py`).

Prefix notation with `&` (implicit between terms), `|` and `!`; terms `(left, operator, right)`
where `left` may be a dotted path through relational fields. As in Odoo 17 a path term means
"any related record matches" (`('order_line.product_id.default_code', '=', X)` is
`('order_line', 'any', [('product_id', 'any', [('default_code', '=', X)])])`); a many2one path
searches the comodel without `active_test`, an x2many path with it. Negative operators (`!=`,
`not in`, `not like`, `not ilike`) also match unset values, as Odoo's SQL does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from adapters.odoo.simulator.errors import OdooError, value_error
from adapters.odoo.simulator.fields import Field
from adapters.odoo.simulator.operators import getter, scalar
from adapters.odoo.simulator.store import Env

Pred = Callable[[int], bool]

TERM_OPERATORS = frozenset(
    {
        "=", "!=", "<>", "<=", "<", ">", ">=", "=?", "=like", "=ilike", "like", "not like",
        "ilike", "not ilike", "in", "not in", "child_of", "parent_of", "any", "not any",
    }
)  # fmt: skip
NEGATIVE = frozenset({"!=", "not like", "not ilike", "not in"})
NEGATION = {"!=": "=", "not like": "like", "not ilike": "ilike", "not in": "in"}
ARITY = {"!": 1, "&": 2, "|": 2}
TRUE_LEAF = (1, "=", 1)
FALSE_LEAF = (0, "=", 1)


def normalize(domain: Any) -> list[Any]:
    """`expression.normalize_domain` + `check_leaf`: explicit `&`s, terms as tuples."""
    if not isinstance(domain, list | tuple):
        raise OdooError(
            "builtins.AssertionError",
            "Domains to normalize must have a 'domain' form: a list or tuple of domain components",
        )
    if not domain:
        return [TRUE_LEAF]
    result: list[Any] = []
    expected = 1
    for item in domain:
        if expected == 0:
            result.insert(0, "&")
            expected = 1
        if isinstance(item, list | tuple):
            expected -= 1
            result.append(tuple(item))
        else:
            expected += (ARITY.get(item, 0) if isinstance(item, str) else 0) - 1
            result.append(item)
    if expected:
        raise value_error(f"Domain {domain} is syntactically not correct.")
    for token in result:
        if not (isinstance(token, str) and token in ARITY) and not _is_leaf(token):
            raise value_error(f"Invalid leaf {token}")
    return result


def _is_leaf(token: Any) -> bool:
    return (
        isinstance(token, tuple)
        and len(token) == 3
        and isinstance(token[1], str)
        and token[1] in TERM_OPERATORS
        and ((isinstance(token[0], str) and bool(token[0])) or token in (TRUE_LEAF, FALSE_LEAF))
    )


def validate(env: Env, model: str, norm: list[Any]) -> None:
    """`_anyfy_leaves`: every term names a field, down every path (first bad term wins)."""
    fields = env.store.models[model].fields
    for token in norm:
        if not isinstance(token, tuple) or token in (TRUE_LEAF, FALSE_LEAF):
            continue
        left, operator, right = token
        path = left.split(".", 1)
        f = fields.get(path[0])
        if f is None:
            raise value_error(f"Invalid field {model}.{path[0]} in leaf {token}")
        if len(path) > 1 and f.relational and f.relation:
            validate(env, f.relation, normalize([(path[1], operator, right)]))
        elif operator in ("any", "not any") and f.relation:
            validate(env, f.relation, normalize(right))


def search(env: Env, model: str, domain: Any, active_test: bool | None = None) -> list[int]:
    """Ids matching `domain`, ascending (callers order them)."""
    store = env.store
    mdef = store.models[model]
    norm = normalize(domain)
    validate(env, model, norm)
    hide_archived = env.active_test if active_test is None else active_test
    mentions_active = any(isinstance(t, tuple) and t[0] == "active" for t in norm)
    if mdef.has_active and hide_archived and not mentions_active:
        norm = ["&", ("active", "=", True), *norm]
    predicate = compile_domain(env, model, norm)
    candidates = _candidates(env, model, norm)
    ids = sorted(candidates) if candidates is not None else list(store.tables[model])
    return [rid for rid in ids if predicate(rid)]


def _candidates(env: Env, model: str, norm: list[Any]) -> set[int] | None:
    """Narrow a pure conjunction through the hash indexes (`=` / `in` on indexed fields)."""
    if any(t in ("|", "!") for t in norm):
        return None
    store = env.store
    found: set[int] | None = None
    for token in norm:
        if not isinstance(token, tuple) or token in (TRUE_LEAF, FALSE_LEAF):
            continue
        left, operator, right = token
        if operator not in ("=", "in"):
            continue
        values = right if operator == "in" else [right]
        if not isinstance(values, list | tuple) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in values
        ):
            continue
        if left == "id":
            hits = {v for v in values if isinstance(v, int) and v in store.tables[model]}
        elif store.has_index(model, left):
            kind = store.models[model].fields[left].type
            if kind == "many2one" and not all(isinstance(v, int) for v in values):
                continue
            hits = set().union(*(store.lookup(model, left, v) for v in values))
        else:
            continue
        found = hits if found is None else found & hits
    return found


def _negate(inner: Pred) -> Pred:
    return lambda rid: not inner(rid)


def _both(a: Pred, b: Pred) -> Pred:
    return lambda rid: a(rid) and b(rid)


def _either(a: Pred, b: Pred) -> Pred:
    return lambda rid: a(rid) or b(rid)


def compile_domain(env: Env, model: str, norm: list[Any]) -> Pred:
    stack: list[Pred] = []
    for item in reversed(norm):
        if item == "!":
            stack.append(_negate(stack.pop()))
        elif item == "&":
            stack.append(_both(stack.pop(), stack.pop()))
        elif item == "|":
            stack.append(_either(stack.pop(), stack.pop()))
        else:
            stack.append(compile_leaf(env, model, item))
    return stack[0]


def compile_leaf(env: Env, model: str, leaf: tuple[Any, str, Any]) -> Pred:  # noqa: PLR0911
    if leaf == TRUE_LEAF:
        return lambda rid: True
    if leaf == FALSE_LEAF:
        return lambda rid: False
    left, operator, right = leaf
    operator = "!=" if operator == "<>" else operator
    if operator == "=?":
        if right is False or right is None:
            return lambda rid: True
        operator = "="
    path = left.split(".", 1)
    f = env.store.models[model].fields[path[0]]
    if len(path) > 1 and f.relational:
        return _any(env, model, f, "any", [(path[1], operator, right)])
    if operator in ("any", "not any"):
        return _any(env, model, f, operator, right)
    if operator in ("child_of", "parent_of"):
        return _hierarchy(env, model, f, operator, right)
    if f.type == "many2one":
        return _many2one(env, model, f, operator, right)
    if f.type in ("one2many", "many2many"):
        return _x2many(env, model, f, operator, right)
    return scalar(getter(env, model, f), f, operator, right)


def related_ids(env: Env, model: str, f: Field) -> Callable[[int], Iterable[int]]:
    """All related ids of a relational field, archived ones included."""
    store = env.store
    mdef = store.models[model]
    if f.inherited_from and mdef.inherits:
        parent, link = mdef.inherits
        inner = related_ids(env, parent, store.models[parent].fields[f.name])
        table = store.tables[model]
        return lambda rid: inner(table[rid][link])
    if f.type == "one2many":
        assert f.relation
        assert f.inverse
        index = store.index[(f.relation, f.inverse)]
        return lambda rid: index.get(rid, ())
    get = getter(env, model, f)
    if f.type == "many2many":
        return lambda rid: get(rid) or ()
    return lambda rid: (value,) if (value := get(rid)) else ()


def _any(env: Env, model: str, f: Field, operator: str, subdomain: Any) -> Pred:
    assert f.relation
    if f.type == "many2one":
        ids = set(search(env, f.relation, subdomain, active_test=False))
        get = getter(env, model, f)
        if operator == "any":
            return lambda rid: get(rid) in ids
        return lambda rid: (value := get(rid)) is False or value not in ids
    matching = set(search(env, f.relation, subdomain))
    kids = related_ids(env, model, f)
    if operator == "any":
        return lambda rid: any(k in matching for k in kids(rid))
    return lambda rid: not any(k in matching for k in kids(rid))


def to_ids(env: Env, model: str, value: Any) -> set[int]:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        return {rid for name in value for rid in name_search_ids(env, model, name, "ilike")}
    if isinstance(value, bool) or value is None:
        return set()
    if isinstance(value, int):
        return {value} if value else set()
    return {v for v in value if isinstance(v, int)}


def _hierarchy(env: Env, model: str, f: Field, operator: str, right: Any) -> Pred:
    store = env.store
    target = model if f.name == "id" else f.relation
    assert target
    ids = to_ids(env.with_context(active_test=False), target, right)
    ids = store.descendants(target, ids) if operator == "child_of" else store.ancestors(target, ids)
    if f.name == "id" or target == model:
        return lambda rid: rid in ids
    kids = related_ids(env, model, f)
    return lambda rid: any(k in ids for k in kids(rid))


def _many2one(env: Env, model: str, f: Field, operator: str, right: Any) -> Pred:
    if isinstance(right, str) or (
        isinstance(right, list) and right and all(isinstance(v, str) for v in right)
    ):
        assert f.relation
        operator = "in" if operator in ("<", ">", "<=", ">=") else operator
        swap = {"not in": "!=", "in": "=", "=": "in", "!=": "not in"}
        if (not isinstance(right, list) and operator in ("in", "not in")) or (
            isinstance(right, list) and operator in ("=", "!=")
        ):
            operator = swap[operator]
        ids = set(name_search_ids(env.with_context(active_test=False), f.relation, right, operator))
        get = getter(env, model, f)
        if operator in NEGATIVE:
            return lambda rid: (value := get(rid)) in ids or value is False
        return lambda rid: get(rid) in ids
    return scalar(getter(env, model, f), f, operator, right)


def _x2many(env: Env, model: str, f: Field, operator: str, right: Any) -> Pred:
    kids = related_ids(env, model, f)
    if right is False or right is None:
        if operator in NEGATIVE:
            return lambda rid: bool(tuple(kids(rid)))
        return lambda rid: not tuple(kids(rid))
    if isinstance(right, str):
        assert f.relation
        positive = NEGATION.get(operator, operator)
        wanted = set(name_search_ids(env, f.relation, right, positive))
    elif isinstance(right, list | tuple):
        wanted = {v for v in right if v}
    else:
        wanted = {right}
    if operator in NEGATIVE:
        return lambda rid: not any(k in wanted for k in kids(rid))
    return lambda rid: any(k in wanted for k in kids(rid))


def name_search_ids(env: Env, model: str, name: Any, operator: str = "ilike") -> list[int]:
    """`_name_search`: the model's `_rec_names_search` fields, OR-ed (AND-ed for negative
    operators); an empty name with a positive operator matches everything."""
    mdef = env.store.models[model]
    fnames = mdef.name_search or ((mdef.rec_name,) if mdef.rec_name else ("display_name",))
    if not name and operator in ("=", "ilike", "=ilike", "like", "=like"):
        return search(env, model, [])
    joiner = "&" if operator in NEGATIVE else "|"
    domain: list[Any] = [joiner] * (len(fnames) - 1)
    domain += [(fname, operator, name) for fname in fnames]
    return search(env, model, domain)
