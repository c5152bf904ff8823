"""One table of figures: each row a measurement, its baseline from the same run, and the
ratio or difference the target is about."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    measured: str
    baseline: str
    figure: str
    target: str
    ok: bool | None = None


def table(rows: list[Row]) -> str:
    headers = ("benchmark", "measured", "baseline (same run)", "figure", "target", "")
    cells = [
        (
            r.name,
            r.measured,
            r.baseline,
            r.figure,
            r.target,
            "" if r.ok is None else ("ok" if r.ok else "MISSED"),
        )
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in [headers, *cells]) for i in range(len(headers))]
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    rule = "-+-".join("-" * w for w in widths)
    body = [" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, rule, *body])
