"""Field and model descriptions: the small part of Odoo's registry the simulator serves.

A `Field` is stored (its value lives in the record dict), computed (`compute(env, rid)`, not
stored, like Odoo's non-stored computed fields), delegated (`inherited_from`: read and written
through the `_inherits` parent, as product.product does with product.template) or a one2many
(derived from the comodel's inverse many2one, through the store's reverse index).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RELATIONAL = frozenset({"many2one", "one2many", "many2many"})
TEXTUAL = frozenset({"char", "text", "html", "selection"})
NUMERIC = frozenset({"integer", "float", "monetary"})


@dataclass(slots=True)
class Field:
    type: str
    string: str
    relation: str | None = None
    inverse: str | None = None  # one2many: the comodel's many2one pointing back
    required: bool = False
    readonly: bool = False
    selection: tuple[tuple[str, str], ...] | None = None
    default: Any = None  # a value, or a callable(env) -> value
    compute: Callable[[Any, int], Any] | None = None
    ondelete: str = "set null"  # many2one: set null | cascade | restrict
    active_test: bool = True  # one2many: hide archived children, as Odoo does by default
    help: str = ""
    size: int | None = None  # char: Odoo silently truncates longer values
    name: str = ""
    inherited_from: str | None = None

    @property
    def store(self) -> bool:
        return self.compute is None and self.type != "one2many" and self.inherited_from is None

    @property
    def relational(self) -> bool:
        return self.type in RELATIONAL

    @property
    def manual(self) -> bool:
        return self.name.startswith("x_")


def char(string: str, **kw: Any) -> Field:
    return Field("char", string, **kw)


def text(string: str, **kw: Any) -> Field:
    return Field("text", string, **kw)


def html(string: str, **kw: Any) -> Field:
    return Field("html", string, **kw)


def integer(string: str, **kw: Any) -> Field:
    kw.setdefault("default", 0)
    return Field("integer", string, **kw)


def floating(string: str, **kw: Any) -> Field:
    kw.setdefault("default", 0.0)
    return Field("float", string, **kw)


def monetary(string: str, **kw: Any) -> Field:
    kw.setdefault("default", 0.0)
    return Field("monetary", string, **kw)


def boolean(string: str, **kw: Any) -> Field:
    kw.setdefault("default", False)
    return Field("boolean", string, **kw)


def datetime_(string: str, **kw: Any) -> Field:
    return Field("datetime", string, **kw)


def date_(string: str, **kw: Any) -> Field:
    return Field("date", string, **kw)


def selection(string: str, options: tuple[tuple[str, str], ...], **kw: Any) -> Field:
    return Field("selection", string, selection=options, **kw)


def many2one(relation: str, string: str, **kw: Any) -> Field:
    if kw.get("required") and "ondelete" not in kw:
        kw["ondelete"] = "restrict"
    return Field("many2one", string, relation=relation, **kw)


def one2many(relation: str, inverse: str, string: str, **kw: Any) -> Field:
    return Field("one2many", string, relation=relation, inverse=inverse, readonly=False, **kw)


def many2many(relation: str, string: str, **kw: Any) -> Field:
    kw.setdefault("default", list)
    return Field("many2many", string, relation=relation, **kw)


def computed(kind: str, string: str, fn: Callable[[Any, int], Any], **kw: Any) -> Field:
    return Field(kind, string, compute=fn, readonly=True, **kw)


@dataclass(slots=True)
class ModelDef:
    name: str
    description: str
    fields: dict[str, Field]
    order: str = "id"
    rec_name: str | None = "name"
    name_search: tuple[str, ...] = ()  # Odoo's _rec_names_search
    parent_name: str = "parent_id"
    inherits: tuple[str, str] | None = None  # (parent model, link many2one)
    indexed: tuple[str, ...] = ()  # exact-match lookups kept in a hash index
    display: Callable[[Any, int], str] | None = None
    methods: dict[str, Callable[..., Any]] = field(default_factory=dict)

    @property
    def has_active(self) -> bool:
        return "active" in self.fields
