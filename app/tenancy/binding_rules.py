"""What a binding may say, checked before anything is saved, built or provisioned.

- `settings` holds the adapter's own settings, validated against the schema the adapter
  declares (`AdapterSpec.settings_schema`; unknown keys are refused, each named), and `shield`,
  validated as `app.shield.policy.ShieldPolicy` (positive rate, burst of at least 1...).
- A settings key that looks like a secret (password, token, api_key, secret, credential...)
  is refused, even where an adapter might read it: settings are stored in clear and shown by
  GET. Secrets go in `secrets`, encrypted at rest and never returned; `secrets` takes only
  the names the adapter's secrets schema declares.
- A sandbox data set belongs to a tenant by its name: tenant `T` may bind the data set `T`
  (set up when the tenant is created) or `T:<label>` (another data set of its own, e.g. a
  migration candidate, set up by binding it with `provision`); never another tenant's.
  Tenant ids cannot contain `:`, so no tenant's name is a prefix of another's data sets.

Every failure is one `FieldError` with the path of the offending field (`settings.url`,
`settings.shield.rate`, `secrets.pin`), all of them in one 400 problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from app.problems import FieldError, InvalidRequest, field_error_from
from app.shield.policy import ShieldPolicy
from app.tenancy.registry import AdapterRegistry, AdapterSpec, UnknownAdapter

SHIELD_KEY = "shield"
SECRET_LIKE = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[-_]?key|private[-_]?key|credential", re.IGNORECASE
)
PARTITION_LABEL = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


def owns_partition(tenant_id: str, name: str) -> bool:
    """Whether the data set `name` is one of `tenant_id`'s: `T` or `T:<label>`."""
    if name == tenant_id:
        return True
    prefix = f"{tenant_id}:"
    return name.startswith(prefix) and bool(PARTITION_LABEL.match(name[len(prefix) :]))


def _converted(value: Any, schema: type[Any], prefix: str) -> FieldError | None:
    try:
        msgspec.convert(value, schema)
    except msgspec.ValidationError as error:
        found = field_error_from(error)
        field = prefix if found.field in ("", "$") else f"{prefix}.{found.field}"
        return FieldError(field, found.message)
    return None


def _key_errors(
    spec: AdapterSpec, settings: Mapping[str, Any], secrets: Mapping[str, str]
) -> list[FieldError]:
    errors: list[FieldError] = []
    known = spec.settings_keys
    for key in settings:
        if key == SHIELD_KEY:
            continue
        if SECRET_LIKE.search(key):
            errors.append(
                FieldError(
                    f"settings.{key}",
                    "looks like a secret: send it in `secrets` (stored encrypted, never shown)",
                )
            )
        elif key not in known:
            errors.append(
                FieldError(
                    f"settings.{key}",
                    f"unknown setting; {spec.name} takes {', '.join((*known, SHIELD_KEY))}",
                )
            )
    secret_names = spec.secret_keys
    for key in secrets:
        if key not in secret_names:
            takes = f"takes {', '.join(secret_names)}" if secret_names else "takes no secrets"
            errors.append(FieldError(f"secrets.{key}", f"unknown secret; {spec.name} {takes}"))
    return errors


def binding_errors(
    spec: AdapterSpec,
    *,
    tenant_id: str,
    settings: Mapping[str, Any],
    secrets: Mapping[str, str],
) -> list[FieldError]:
    """Everything wrong with this binding of `tenant_id` to `spec`'s adapter ([] if nothing)."""
    errors = _key_errors(spec, settings, secrets)
    own = {
        key: value
        for key, value in settings.items()
        if key != SHIELD_KEY and key in spec.settings_keys
    }
    checks: list[tuple[Any, type[Any], str]] = [(own, spec.settings_schema, "settings")]
    if SHIELD_KEY in settings:
        checks.append((settings[SHIELD_KEY], ShieldPolicy, f"settings.{SHIELD_KEY}"))
    if spec.secrets_schema is not None:
        checks.append((dict(secrets), spec.secrets_schema, "secrets"))
    errors += [
        found for value, schema, prefix in checks if (found := _converted(value, schema, prefix))
    ]
    partition = spec.tenant_partition
    if partition is not None and isinstance(settings.get(partition), str):
        name = str(settings[partition])
        if not owns_partition(tenant_id, name):
            errors.append(
                FieldError(
                    f"settings.{partition}",
                    f"tenant {tenant_id} may bind only its own data sets: "
                    f"{tenant_id!r} or '{tenant_id}:<label>'",
                )
            )
    return errors


def accepted_spec(
    registry: AdapterRegistry,
    *,
    tenant_id: str,
    adapter: str,
    settings: Mapping[str, Any],
    secrets: Mapping[str, str],
) -> AdapterSpec:
    """The adapter's spec, once the binding's settings and secrets are acceptable; otherwise
    a 400 problem naming every offending field."""
    try:
        spec = registry.get(adapter)
    except UnknownAdapter:
        known = ", ".join(registry.names())
        raise InvalidRequest(
            f"unknown adapter {adapter!r}; known: {known}",
            errors=[FieldError("adapter", f"unknown; known: {known}")],
        ) from None
    errors = binding_errors(spec, tenant_id=tenant_id, settings=settings, secrets=secrets)
    if errors:
        raise InvalidRequest(
            f"binding to {adapter} refused: "
            + "; ".join(f"{error.field}: {error.message}" for error in errors),
            errors=errors,
        )
    return spec
