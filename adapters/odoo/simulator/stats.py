"""Request counters of the simulator's control API (`GET /_sim/stats`)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any


class Stats:
    """What reached the simulator: every JSON-RPC request is counted by service, method, model
    and `model.method` when it arrives (also those a fault then turns away); `dispatched`
    counts those that reached the Odoo dispatcher, `faults` what each fault did and `errors`
    the error envelopes answered (injected or real), by exception name."""

    WINDOW = 300

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.requests = 0
        self.dispatched = 0
        self.by_service: Counter[str] = Counter()
        self.by_method: Counter[str] = Counter()
        self.by_model: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.per_second: Counter[int] = Counter()
        self.first: float | None = None
        self.last: float | None = None

    def arrived(
        self, service: str, method: str, model: str | None, model_method: str | None
    ) -> None:
        now = time.time()
        self.requests += 1
        self.first = self.first or now
        self.last = now
        second = int(now)
        if second not in self.per_second and len(self.per_second) >= self.WINDOW:
            del self.per_second[min(self.per_second)]
        self.per_second[second] += 1
        self.by_service[service] += 1
        self.by_method[f"{service}.{method}"] += 1
        if model is not None:
            self.by_model[model] += 1
            self.calls[f"{model}.{model_method}"] += 1

    def describe(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "dispatched": self.dispatched,
            "by_service": dict(self.by_service),
            "by_method": dict(self.by_method),
            "by_model": dict(self.by_model),
            "calls": dict(self.calls),
            "errors": dict(self.errors),
            "faults": dict(self.faults),
            "per_second": {str(k): v for k, v in sorted(self.per_second.items())},
            "first_request_at": self.first,
            "last_request_at": self.last,
        }
