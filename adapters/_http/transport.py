"""One vendor endpoint over httpx, with every lower-level failure mapped to our errors.

- connection refused, reset, DNS, a read or connect timeout: `BackendUnavailable` (retryable);
- HTTP 429 and 503 with `Retry-After`, other 5xx: `BackendOverloaded` (retryable), carrying
  the vendor's Retry-After in seconds;
- a body larger than `max_body` bytes: `BackendUnavailable` (read stops at the limit, so a
  runaway answer cannot exhaust memory).

Other statuses are returned to the adapter, which knows what its vendor means by them.

Adapters use httpx's API; underneath, by default, aiohttp's connection pool (httpx-aiohttp),
which measured 3-4x httpx's own transport under concurrency (bench/, README "Performance").
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from dataclasses import dataclass

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from contracts.errors import BackendOverloaded, BackendUnavailable

DEFAULT_MAX_BODY = 32 * 1024 * 1024


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def default_transport(max_connections: int = 20) -> httpx.AsyncBaseTransport:
    """httpx's API over aiohttp's connection pool."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return AiohttpTransport(limits=limits, trust_env=False)


class _NoCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _CookielessClient(httpx.AsyncClient):
    """Our vendors authenticate every call (a key, a session in a header, credentials in the
    body), so a cookie jar is never used; httpx would still parse every answer for
    Set-Cookie, a cost paid on each backend call."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        return None


_NO_COOKIES = _NoCookies()


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    headers: httpx.Headers
    body: bytes


class HttpEndpoint:
    def __init__(
        self,
        base_url: str,
        *,
        backend: str,
        timeout: float = 10.0,
        max_body: int = DEFAULT_MAX_BODY,
        max_connections: int = 20,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.backend = backend
        self._max_body = max_body
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._client = _CookielessClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=limits,
            transport=transport or default_transport(max_connections),
            follow_redirects=False,
        )
        self._deadline = timeout
        self._urls: dict[str, httpx.URL] = {}

    def _url(self, path: str) -> httpx.URL:
        """The absolute URL of a path, parsed once (an endpoint posts to a handful)."""
        url = self._urls.get(path)
        if url is None:
            url = self._client.build_request("POST", path).url
            if len(self._urls) < 64:
                self._urls[path] = url
        return url

    async def post(self, path: str, content: bytes, headers: dict[str, str]) -> HttpReply:
        request = self._client.build_request(
            "POST",
            self._url(path),
            content=content,
            headers={"Content-Type": "application/json", **headers},
        )
        try:
            # The whole exchange has one deadline, whatever the transport enforces per step.
            async with asyncio.timeout(self._deadline + 1.0):
                response = await self._client.send(request, stream=True)
                try:
                    body = await self._read_capped(response)
                finally:
                    await response.aclose()
        except (httpx.TimeoutException, TimeoutError) as error:
            raise BackendUnavailable(f"{self.backend} timed out", backend=self.backend) from error
        except (httpx.HTTPError, aiohttp.ClientError, OSError) as error:  # the wire failed
            raise BackendUnavailable(
                f"{self.backend} unreachable: {type(error).__name__}", backend=self.backend
            ) from error
        status = response.status_code
        if status == 429 or status >= 500:
            raise BackendOverloaded(
                f"{self.backend} answered HTTP {status}",
                backend=self.backend,
                vendor_code=str(status),
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        return HttpReply(status, response.headers, body)

    async def _read_capped(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self._max_body:
            raise BackendUnavailable(
                f"{self.backend} answer of {declared} bytes exceeds {self._max_body}",
                backend=self.backend,
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_body:
                raise BackendUnavailable(
                    f"{self.backend} answer exceeds {self._max_body} bytes", backend=self.backend
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        await self._client.aclose()
