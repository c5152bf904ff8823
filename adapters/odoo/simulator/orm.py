"""`execute_kw` on a model: Odoo 17's `service.model.execute` + `api.call_kw`.

Private method names are refused (`AccessError`), unknown models are a `UserError`
("Object x doesn't exist"), unknown methods an `AttributeError`; positional `args` and keyword
`kwargs` bind to the method's parameters like a Python call (so a clash or an unknown keyword is
a `TypeError`), `context` is taken out of `kwargs` first; record methods (`read`, `write`,
`unlink`, `action_*`) take their ids as the first positional argument. `create` answers an id
for one dict and a list of ids for a list of dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.odoo.simulator import reading, writing
from adapters.odoo.simulator.convert import as_ids
from adapters.odoo.simulator.errors import (
    ACCESS_ERROR,
    ATTRIBUTE_ERROR,
    INDEX_ERROR,
    TYPE_ERROR,
    OdooError,
    missing_arguments,
    user_error,
)
from adapters.odoo.simulator.store import Env

# method -> (parameters after self/ids, how many are required, takes ids first)
SIGNATURES: dict[str, tuple[tuple[str, ...], int, bool]] = {
    "search": (("domain", "offset", "limit", "order"), 1, False),
    "search_count": (("domain", "limit"), 1, False),
    "search_read": (("domain", "fields", "offset", "limit", "order", "load"), 0, False),
    "read": (("fields", "load"), 0, True),
    "create": (("vals_list",), 1, False),
    "write": (("vals",), 1, True),
    "unlink": ((), 0, True),
    "fields_get": (("allfields", "attributes"), 0, False),
    "name_search": (("name", "args", "operator", "limit"), 0, False),
    "default_get": (("fields_list",), 1, False),
}


def _create(env: Env, model: str, vals_list: Any) -> Any:
    if isinstance(vals_list, dict):
        return writing.create(env, model, vals_list)
    if not isinstance(vals_list, list):
        raise OdooError(TYPE_ERROR, f"vals_list must be a dict or a list, got {vals_list!r}")
    return [writing.create(env, model, vals) for vals in vals_list]


IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {
    "search": reading.search_ids,
    "search_count": reading.search_count,
    "search_read": reading.search_read,
    "read": reading.read,
    "create": _create,
    "write": writing.write,
    "unlink": writing.unlink,
    "fields_get": reading.fields_get,
    "name_search": reading.name_search,
    "default_get": reading.default_get,
}


def bind(
    method: str, params: tuple[str, ...], required: int, args: list[Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    qualname = f"BaseModel.{method}()"
    if len(args) > len(params):
        raise OdooError(
            TYPE_ERROR,
            f"{qualname} takes from {1 + required} to {1 + len(params)} positional arguments"
            f" but {1 + len(args)} were given",
        )
    bound = dict(zip(params, args, strict=False))
    for key, value in kwargs.items():
        if key not in params:
            raise OdooError(TYPE_ERROR, f"{qualname} got an unexpected keyword argument '{key}'")
        if key in bound:
            raise OdooError(TYPE_ERROR, f"{qualname} got multiple values for argument '{key}'")
        bound[key] = value
    absent = [p for p in params[:required] if p not in bound]
    if absent:
        raise missing_arguments(qualname, absent)
    return bound


def call(
    env_factory: Callable[[dict[str, Any]], Env], model: str, method: str, args: Any, kwargs: Any
) -> Any:
    if not isinstance(method, str) or method.startswith("_"):
        raise OdooError(
            ACCESS_ERROR, f"Private methods (such as {method}) cannot be called remotely."
        )
    if not isinstance(args, list):
        raise OdooError(TYPE_ERROR, "execute_kw() argument after * must be an iterable")
    kwargs = dict(kwargs or {})
    context = kwargs.pop("context", None)
    env = env_factory(context if isinstance(context, dict) else {})
    mdef = env.store.models.get(model) if isinstance(model, str) else None
    if mdef is None:
        raise user_error(f"Object {model} doesn't exist")
    if method in SIGNATURES:
        params, required, with_ids = SIGNATURES[method]
        impl = IMPLEMENTATIONS[method]
    elif method in mdef.methods:
        params, required, with_ids = (), 0, True
        impl = mdef.methods[method]
    else:
        raise OdooError(
            ATTRIBUTE_ERROR, f"The method '{method}' does not exist on the model '{model}'"
        )
    if with_ids:
        if not args:
            raise OdooError(INDEX_ERROR, "list index out of range")
        ids, args = as_ids(args[0]), args[1:]
        bound = bind(method, params, required, args, kwargs)
        return impl(env, model, ids, **bound)
    bound = bind(method, params, required, args, kwargs)
    return impl(env, model, **bound)
