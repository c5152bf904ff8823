"""`adapters.tryton.errors`: every exception class trytond defines is mapped, and `classify`
turns each JSON-RPC `error` shape Tryton sends into exactly one `contracts.errors` class."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from adapters.tryton.errors import NAME, VENDOR_ERRORS, classify
from contracts.errors import (
    BackendAuthError,
    BackendError,
    BackendProtocolError,
    BusinessRejection,
    RetryableBackendError,
)
from deploy.tryton.tryton_server import default_cache_dir
from tests.support.services import need


def _trytond_exceptions() -> Path:
    site = default_cache_dir() / "venv" / "lib"
    found = sorted(site.glob("python3*/site-packages/trytond/exceptions.py"))
    need(
        "Tryton",
        bool(found),
        f"no trytond installed under {site} (run `python -m deploy.tryton.tryton_server ensure`)",
    )
    return found[-1]


def _class_names(source: str) -> set[str]:
    return {node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ClassDef)}


def test_class_parser_finds_classes() -> None:
    # The check below is only as good as the parser: it must see nested and odd definitions.
    source = "class A(Exception):\n    class B:\n        pass\nclass C(A, metaclass=M): ...\n"
    assert _class_names(source) == {"A", "B", "C"}


def test_every_trytond_exception_is_mapped() -> None:
    names = _class_names(_trytond_exceptions().read_text(encoding="utf-8"))
    assert {"TrytonException", "UserError", "LoginException"} <= names  # parsed the real file
    unmapped = sorted(names - VENDOR_ERRORS.keys())
    assert not unmapped, f"trytond exceptions with no mapping in VENDOR_ERRORS: {unmapped}"


def test_every_mapping_is_a_contract_error() -> None:
    for name, kind in VENDOR_ERRORS.items():
        assert issubclass(kind, BackendError), name


ENVELOPES: list[tuple[str, Any, type[BackendError]]] = [
    ("user_error", ["UserError", ["msg", "desc", None]], BusinessRejection),
    (
        "user_error_domain",
        ["UserError", ["msg", "", [[["id", "=", 1]], ["code"]]]],
        BusinessRejection,
    ),
    ("user_warning", ["UserWarning", ["name", "msg", "desc"]], BusinessRejection),
    ("login", ["LoginException", ["password", "msg", "password"]], BackendAuthError),
    ("concurrency", ["ConcurrencyException", "msg"], RetryableBackendError),
    ("no_arguments", [], RetryableBackendError),  # RateLimit-, TimeOutException
    ("unknown_model", ["'no.such.model'", "traceback"], BackendProtocolError),
    ("server_fault", ["division by zero", ""], BackendProtocolError),
    ("one_element", ["KeyError"], BackendProtocolError),
    ("string", "boom", BackendProtocolError),
    ("object", {"code": 1, "message": "boom"}, BackendProtocolError),
    ("number", 42, BackendProtocolError),
    ("true", True, BackendProtocolError),
    # Falsy, but still not a list: nothing Tryton sends, so not a passing fault either.
    ("empty_string", "", BackendProtocolError),
    ("empty_object", {}, BackendProtocolError),
    ("zero", 0, BackendProtocolError),
]


@pytest.mark.parametrize(
    ("error", "expected"),
    [pytest.param(error, expected, id=name) for name, error, expected in ENVELOPES],
)
def test_classify_real_envelopes(error: Any, expected: type[BackendError]) -> None:
    result = classify(error)
    assert isinstance(result, BackendError)
    assert type(result) is expected, repr(result)
    assert result.backend == NAME
    assert len(str(result)) <= 500


@pytest.mark.parametrize(
    "error",
    [
        ["UserError", ["msg", "desc", None]],
        ["UserError", ["msg", "", None]],
        ["UserWarning", ["name", "msg", "desc"]],
    ],
)
def test_business_rejections_carry_trytons_message(error: Any) -> None:
    result = classify(error)
    assert isinstance(result, BusinessRejection)
    assert result.vendor_code == error[0]
    assert any("msg" in reason for reason in result.reasons), result.reasons


def test_user_error_description_is_kept() -> None:
    result = classify(["UserError", ["msg", "desc", None]])
    assert isinstance(result, BusinessRejection)
    assert any("desc" in reason for reason in result.reasons)


@pytest.mark.parametrize(
    ("error", "vendor_code"),
    [
        (["LoginException", ["password", "msg", "password"]], "LoginException"),
        (["ConcurrencyException", "msg"], "ConcurrencyException"),
        (["'no.such.model'", "traceback"], "'no.such.model'"),
    ],
)
def test_vendor_code_names_trytons_error(error: Any, vendor_code: str) -> None:
    assert classify(error).vendor_code == vendor_code


def test_huge_server_message_is_cut() -> None:
    result = classify(["x" * 10_000, "y" * 10_000])
    assert type(result) is BackendProtocolError
    assert len(result.message) <= 500
    assert result.vendor_code is not None
    assert len(result.vendor_code) <= 100
