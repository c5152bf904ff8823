"""`python -m bench [--seconds N] [--only cache,...]`: run the benchmarks and print one table."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from bench import load
from bench.procs import REDIS_URL, Stack
from bench.report import Row, table
from bench.scenarios import cache, intake, reservations, shield

RESULTS = Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each load run")
    parser.add_argument(
        "--only", default="", help="comma-separated: cache, shield, intake, reservations"
    )
    args = parser.parse_args(argv)
    only = set(filter(None, args.only.split(",")))
    _flush_redis()
    rows: list[Row] = []
    stack = Stack()
    started = time.monotonic()
    try:
        if not only or "cache" in only:
            database = stack.database()
            rows += cache.cached_reads(stack, database, args.seconds)
            rows += cache.miss_overhead(stack, database, args.seconds)
            rows += cache.cold_key(stack, database)
            rows += cache.transports(stack, min(args.seconds, 3.0))
        if not only or "shield" in only:
            rows += shield.overload(stack, stack.database(), max(10.0, args.seconds * 2))
        if not only or "intake" in only:
            rows += intake.intake(stack, stack.database(), args.seconds)
        if not only or "reservations" in only:
            rows += reservations.contention(stack, stack.database(), args.seconds)
    finally:
        stack.close()
    print()
    print(table(rows))
    print(
        f"\nload generator: {'wrk' if load.have_wrk() else 'python asyncio client (install wrk for less noise)'};"
        f" {time.monotonic() - started:.0f} s; logs: {stack.workdir}"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps([asdict(row) for row in rows], indent=2))
    return 0 if all(row.ok is not False for row in rows) else 1


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


if __name__ == "__main__":
    sys.exit(main())
