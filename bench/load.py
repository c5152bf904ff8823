"""Load generation: wrk when the machine has it (C, light on the CPU the servers need), else a
small asyncio HTTP/1.1 client. Both report requests per second and latency percentiles."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d, "non2xx": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""


# Each request the next of `paths` (so concurrent requests ask for different resources).
PATHS_SCRIPT = """
local paths = {%(paths)s}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, paths[(counter %% #paths) + 1])
end
"""


POST_SCRIPT = """
local path, template, prefix = [==[%(path)s]==], [==[%(template)s]==], [==[%(prefix)s]==]
local slots, counter = %(slots)d, 0
request = function()
  counter = counter + 1
  local uid = prefix .. "-" .. counter
  wrk.headers["Idempotency-Key"] = uid
  local body = string.gsub(template, "{uid}", uid)
  body = string.gsub(body, "{slot}", tostring(counter %% slots))
  return wrk.format("POST", path, nil, body)
end
"""


@dataclass(frozen=True, slots=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    tool: str


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run(
    url: str,
    *,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    threads: int = 1,
    paths: list[str] | None = None,
) -> Result:
    """GET `url` over and over; with `paths`, each request the next of them on `url`'s
    host instead."""
    if have_wrk():
        script = (
            PATHS_SCRIPT % {"paths": ", ".join(f"[==[{path}]==]" for path in paths)}
            if paths
            else ""
        )
        return _wrk(
            url,
            connections=connections,
            seconds=seconds,
            headers=headers or {},
            threads=threads,
            script=script,
        )
    return asyncio.run(
        _python(url, connections=connections, seconds=seconds, headers=headers or {}, paths=paths)
    )


def post_unique(
    url: str,
    template: str,
    *,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    slots: int = 1,
) -> Result:
    """POST `template` as JSON over and over, `{uid}` in it replaced by a token unique to the
    request, which is also its `Idempotency-Key` (every request a new order), and `{slot}` by
    the request's number modulo `slots` (requests spread over that many SKUs, say)."""
    prefix = uuid.uuid4().hex[:12]
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if have_wrk():
        parts = urlsplit(url)
        script = POST_SCRIPT % {
            "path": parts.path,
            "template": template,
            "prefix": prefix,
            "slots": slots,
        }
        return _wrk(
            url,
            connections=connections,
            seconds=seconds,
            headers=all_headers,
            threads=1,
            script=script,
        )
    return asyncio.run(
        _python(
            url,
            connections=connections,
            seconds=seconds,
            headers=all_headers,
            post=(template, prefix, slots),
        )
    )


def _wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    headers: dict[str, str],
    threads: int,
    script: str = "",
) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script + WRK_SCRIPT)
    script_path = handle.name
    command = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "-s",
        script_path,
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    Path(script_path).unlink(missing_ok=True)
    summary = json.loads(output.strip().splitlines()[-1])
    return Result(
        rps=summary["requests"] / (summary["duration_us"] / 1e6),
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        requests=summary["requests"],
        errors=summary["errors"] + summary["non2xx"],
        tool="wrk",
    )


async def _python(
    url: str,
    *,
    connections: int,
    seconds: float,
    headers: dict[str, str],
    post: tuple[str, str, int] | None = None,
    paths: list[str] | None = None,
) -> Result:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    method = "POST" if post else "GET"
    fields = f"Host: {parts.netloc}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = f"{method} {target} HTTP/1.1\r\n" + fields
    rotation = itertools.cycle(paths or [target])
    counter = itertools.count(1)

    def next_request() -> bytes:
        if post is None:
            return f"GET {next(rotation)} HTTP/1.1\r\n{fields}\r\n".encode()
        number = next(counter)
        uid = f"{post[1]}-{number}"
        body = post[0].replace("{uid}", uid).replace("{slot}", str(number % post[2])).encode()
        extra = f"Idempotency-Key: {uid}\r\nContent-Length: {len(body)}\r\n\r\n"
        return (head + extra).encode() + body

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(next_request())
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if not status_line.startswith(b"HTTP/1.1 2"):
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(
        rps=len(latencies) / elapsed,
        p50_ms=latencies[len(latencies) // 2] * 1000 if latencies else 0.0,
        p99_ms=latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0,
        requests=len(latencies),
        errors=errors,
        tool="python",
    )
