"""Run-time switchable faults and the request counters of the simulator's control API (see the
package docstring for the wire format)."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from adapters.odoo.simulator.errors import ACCESS_DENIED, OdooError

DEFAULT_MESSAGES = {
    ACCESS_DENIED: "Access Denied",
    "odoo.exceptions.UserError": "Simulated business error",
    "odoo.exceptions.ValidationError": "Simulated validation error",
    "odoo.exceptions.AccessError": "Simulated access error",
    "odoo.exceptions.MissingError": "Record does not exist or has been deleted.",
    "psycopg2.errors.SerializationFailure": ("could not serialize access due to concurrent update"),
    "psycopg2.OperationalError": "server closed the connection unexpectedly",
}
HTTP_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                504: "Gateway Timeout", 429: "Too Many Requests"}  # fmt: skip


class FaultSpecError(ValueError):
    """A control-API request the simulator cannot understand (answered with HTTP 400)."""


Call = tuple[
    str | None, str
]  # (model or None, method): ("sale.order", "create"), (None, "common.version")


@dataclass(slots=True)
class Target:
    """Which calls a fault applies to: `models` and/or `methods` (model methods of
    `execute_kw`, or "service.method" for the other services); all calls when neither."""

    models: frozenset[str] | None = None
    methods: frozenset[str] | None = None

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> Target:
        names = []
        for key in ("models", "methods"):
            value = spec.get(key)
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) for v in value)
            ):
                raise FaultSpecError(f"{key} must be a list of names")
            names.append(None if value is None else frozenset(value))
        return cls(names[0], names[1])

    def matches(self, call: Call) -> bool:
        model, method = call
        if self.models is not None and model not in self.models:
            return False
        return self.methods is None or method in self.methods

    def describe(self) -> dict[str, Any]:
        return {
            "models": None if self.models is None else sorted(self.models),
            "methods": None if self.methods is None else sorted(self.methods),
        }


@dataclass(slots=True)
class Trigger:
    """When a fault fires: on the next `count` matching requests, on a random `fraction` of
    them, or always."""

    count: int | None = None
    fraction: float | None = None
    target: Target = field(default_factory=Target)

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> Trigger:
        count = spec.get("count")
        fraction = spec.get("fraction")
        if count is not None and (not isinstance(count, int) or count < 0):
            raise FaultSpecError("count must be a non-negative integer")
        if fraction is not None and not (isinstance(fraction, int | float) and 0 <= fraction <= 1):
            raise FaultSpecError("fraction must be between 0 and 1")
        return cls(count, None if fraction is None else float(fraction), Target.parse(spec))

    def fire(self, rng: random.Random, call: Call) -> bool:
        if not self.target.matches(call):
            return False
        if self.count is not None:
            if self.count <= 0:
                return False
            if self.fraction is None or rng.random() < self.fraction:
                self.count -= 1
                return True
            return False
        if self.fraction is not None:
            return rng.random() < self.fraction
        return True

    def spent(self) -> bool:
        return self.count is not None and self.count <= 0

    def describe(self) -> dict[str, Any]:
        return {"count": self.count, "fraction": self.fraction, **self.target.describe()}


class TokenBucket:
    def __init__(self, rps: float, burst: float, target: Target) -> None:
        self.rps = rps
        self.burst = burst
        self.target = target
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> float:
        """0 when the request may pass, else the seconds until a token is free."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rps)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rps


def _number(spec: dict[str, Any], key: str, default: float | None = None) -> float:
    value = spec.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise FaultSpecError(f"{key} must be a non-negative number")
    return float(value)


def _object(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FaultSpecError(f"{key} must be an object or null")
    return value


class Faults:
    def __init__(self) -> None:
        self.rng = random.Random(0)  # noqa: S311 - fault sampling, reproducible on purpose
        self.clear()

    def clear(self) -> None:
        self.latency_ms = 0.0
        self.jitter_ms = 0.0
        self.rate: TokenBucket | None = None
        self.error: tuple[Trigger, str, str] | None = None
        self.http_error: tuple[Trigger, int] | None = None
        self.timeout: tuple[Trigger, float] | None = None
        self.drop: Trigger | None = None
        self.down: tuple[str, float | None] | None = None  # (mode, until monotonic)
        self._refresh()

    def _refresh(self) -> None:
        self.active = bool(
            self.latency_ms or self.jitter_ms or self.rate or self.error or self.http_error
            or self.timeout or self.drop or self.down
        )  # fmt: skip

    def configure(self, spec: Any) -> None:
        if not isinstance(spec, dict):
            raise FaultSpecError("the body must be a JSON object")
        unknown = set(spec) - set(self._PARSERS)
        if unknown:
            raise FaultSpecError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        for key, value in spec.items():
            self._PARSERS[key](self, value)
        self._refresh()

    def _seed(self, value: Any) -> None:
        self.rng.seed(value)

    def _latency(self, value: Any) -> None:
        self.latency_ms = 0.0 if value is None else _number({"latency_ms": value}, "latency_ms")

    def _jitter(self, value: Any) -> None:
        self.jitter_ms = 0.0 if value is None else _number({"jitter_ms": value}, "jitter_ms")

    def _rate_limit(self, value: Any) -> None:
        self.rate = None
        if value is not None:
            rate = _object(value, "rate_limit")
            rps = _number(rate, "rps")
            if rps <= 0:
                raise FaultSpecError("rps must be positive")
            burst = max(1.0, _number(rate, "burst", rps))
            self.rate = TokenBucket(rps, burst, Target.parse(rate))

    def _error(self, value: Any) -> None:
        self.error = None
        if value is not None:
            error = _object(value, "error")
            name = str(error.get("name") or "odoo.exceptions.UserError")
            message = str(error.get("message") or DEFAULT_MESSAGES.get(name, "Simulated fault"))
            self.error = (Trigger.parse(error), name, message)

    def _http_error(self, value: Any) -> None:
        self.http_error = None
        if value is not None:
            http = _object(value, "http_error")
            status = http.get("status", 502)
            if not isinstance(status, int) or not 400 <= status <= 599:
                raise FaultSpecError("status must be an HTTP error status")
            self.http_error = (Trigger.parse(http), status)

    def _timeout(self, value: Any) -> None:
        self.timeout = None
        if value is not None:
            timeout = _object(value, "timeout")
            self.timeout = (Trigger.parse(timeout), _number(timeout, "seconds", 30.0))

    def _drop(self, value: Any) -> None:
        self.drop = None if value is None else Trigger.parse(_object(value, "drop"))

    def _down(self, value: Any) -> None:
        self.down = None
        if value is not None:
            down = _object(value, "down")
            mode = str(down.get("mode", "503"))
            if mode not in ("503", "refuse"):
                raise FaultSpecError('down.mode must be "503" or "refuse"')
            seconds = down.get("seconds", 1.0 if mode == "refuse" else None)
            if seconds is None:
                self.down = (mode, None)
            else:
                until = time.monotonic() + _number({"seconds": seconds}, "seconds")
                self.down = (mode, until)

    _PARSERS: ClassVar[dict[str, Callable[[Faults, Any], None]]] = {
        "seed": _seed,
        "latency_ms": _latency,
        "jitter_ms": _jitter,
        "rate_limit": _rate_limit,
        "error": _error,
        "http_error": _http_error,
        "timeout": _timeout,
        "drop": _drop,
        "down": _down,
    }

    def down_mode(self) -> str | None:
        if self.down is None:
            return None
        mode, until = self.down
        if until is not None and time.monotonic() >= until:
            self.down = None
            self._refresh()
            return None
        return mode

    def down_remaining(self) -> float | None:
        if self.down is None or self.down[1] is None:
            return None
        return max(0.0, self.down[1] - time.monotonic())

    def latency(self) -> float:
        jitter = self.rng.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
        return max(0.0, self.latency_ms + jitter) / 1000.0

    def rate_limited(self, call: Call) -> float:
        """0 when the call may pass the rate limit, else the seconds until it could."""
        if self.rate is None or not self.rate.target.matches(call):
            return 0.0
        return self.rate.take()

    def injected_error(self, call: Call) -> OdooError | None:
        if self.error is None:
            return None
        trigger, name, message = self.error
        if not trigger.fire(self.rng, call):
            return None
        if trigger.spent():
            self.error = None
            self._refresh()
        return OdooError(name, message)

    def fire(self, attribute: str, call: Call) -> Any:
        """Whether the `drop`, `timeout` or `http_error` fault fires now (and its parameter)."""
        value = getattr(self, attribute)
        if value is None:
            return None
        trigger = value if isinstance(value, Trigger) else value[0]
        if not trigger.fire(self.rng, call):
            return None
        if trigger.spent():
            setattr(self, attribute, None)
            self._refresh()
        return True if isinstance(value, Trigger) else value[1]

    def describe(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "jitter_ms": self.jitter_ms,
            "rate_limit": None
            if self.rate is None
            else {"rps": self.rate.rps, "burst": self.rate.burst, **self.rate.target.describe()},
            "error": None
            if self.error is None
            else {**self.error[0].describe(), "name": self.error[1], "message": self.error[2]},
            "http_error": None
            if self.http_error is None
            else {**self.http_error[0].describe(), "status": self.http_error[1]},
            "timeout": None
            if self.timeout is None
            else {**self.timeout[0].describe(), "seconds": self.timeout[1]},
            "drop": None if self.drop is None else self.drop.describe(),
            "down": None
            if self.down_mode() is None
            else {"mode": self.down_mode(), "remaining_s": self.down_remaining()},
        }


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
