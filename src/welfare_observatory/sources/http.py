"""The HTTP client every source uses: timeouts, bounded retries, per-host rate limits.

Istat's SDMX service allows about 5 requests a minute per address and blocks addresses
that exceed it, so the default limits are per host. Retries back off exponentially; the
sleep and the clock are injectable so tests never wait. Header (and parameter) values
written ``env:VAR_NAME`` are read from the environment at request time: the request key,
the cache index and every error message carry the ``env:`` text, never the secret.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.client import HTTPException, HTTPResponse
from typing import Any

from welfare_observatory.errors import ConfigError, FetchError, Location

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "HttpClient",
    "HttpStatusError",
    "RateLimiter",
    "Response",
    "request_key",
    "shared_client",
    "user_agent",
]

DEFAULT_RATE_LIMITS: dict[str, float] = {
    "esploradati.istat.it": 5.0,
    "sdmx.istat.it": 5.0,
    "ec.europa.eu": 60.0,
}
"""Requests per minute per host; hosts not listed are not limited."""

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_CHUNK = 1 << 16


def user_agent() -> str:
    """``welfare-observatory/<version>``."""
    from welfare_observatory._version import __version__

    return f"welfare-observatory/{__version__}"


def request_key(url: str, params: Mapping[str, str] | None = None) -> str:
    """The request identity: the URL with its parameters in sorted order (secrets unresolved)."""
    if not params:
        return url
    query = urllib.parse.urlencode(sorted(params.items()), safe=":,+")
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _resolve_secret(value: str, *, what: str, source: str) -> str:
    if not value.startswith("env:"):
        return value
    name = value[4:]
    secret = os.environ.get(name)
    if secret is None:
        raise ConfigError(
            f"environment variable {name!r} for {what} is not set",
            location=Location(source=source or None, field=what),
            hint=f"export {name}=... before fetching; secrets never go in files",
        )
    return secret


class HttpStatusError(FetchError):
    """The server answered with an error status (``status``, ``url``, a bounded ``body``)."""

    def __init__(
        self,
        url: str,
        status: int,
        body: bytes,
        *,
        source: str = "",
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.url = url
        self.retry_after = retry_after
        self.status = status
        self.body = body[:4096]
        text = self.body.decode("utf-8", "replace").strip().splitlines()
        detail = f": {text[0][:200]}" if text else ""
        super().__init__(
            f"HTTP {status} from {url}{detail}",
            location=Location(source=source or None, key=url),
            hint=hint or _status_hint(status),
        )


def _status_hint(status: int) -> str:
    if status == 404:
        return "check the dataset id, the key and the base URL"
    if status in (401, 403):
        return "the service refused access: check the credentials (env: headers) or rate limits"
    if status == 429:
        return "too many requests: lower the rate limit for this host"
    return "the service may be down; try again later"


@dataclass(frozen=True, slots=True)
class Response:
    """A complete answer (the body is read whole, within the size bound)."""

    url: str
    status: int
    body: bytes
    media_type: str = "application/octet-stream"
    headers: Mapping[str, str] = field(default_factory=dict)


class RateLimiter:
    """At most ``rate`` requests per minute per host (a minimum interval between them)."""

    def __init__(
        self,
        limits: Mapping[str, float] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = dict(DEFAULT_RATE_LIMITS if limits is None else limits)
        for host, rate in self.limits.items():
            if rate <= 0:
                raise ConfigError(f"rate limit for {host!r} must be positive, not {rate}")
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str) -> float:
        """Block until a request to ``host`` is allowed; returns the seconds waited."""
        rate = self.limits.get(host.lower())
        if rate is None:
            return 0.0
        interval = 60.0 / rate
        with self._lock:
            now = self._clock()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + interval
        delay = start - now
        if delay > 0:
            self._sleep(delay)
        return delay


class HttpClient:
    """GET with a timeout, bounded retries, exponential backoff and per-host rate limits.

    ``rate_limits`` (requests per minute, by host name) replaces ``DEFAULT_RATE_LIMITS``
    when given (``{}``: no limit). Limits hold per client: share one client (see
    :func:`shared_client`) across the sources of a build.
    """

    def __init__(
        self,
        *,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 2.0,
        max_backoff: float = 120.0,
        max_bytes: int = 512 * 1024 * 1024,
        rate_limits: Mapping[str, float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        agent: str | None = None,
    ) -> None:
        if timeout <= 0 or retries < 0 or max_bytes <= 0:
            raise ConfigError("timeout and max_bytes must be positive, retries not negative")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_bytes = max_bytes
        self.sleep = sleep
        self.clock = clock
        self.limiter = RateLimiter(rate_limits, clock=clock, sleep=sleep)
        self.agent = agent or user_agent()
        self._opener = urllib.request.build_opener(_HttpOnlyRedirects)
        self.requests = 0
        """How many requests went out (retries included): tests and progress read it."""

    def get(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        accept_status: tuple[int, ...] = (),
        source: str = "",
    ) -> Response:
        """The answer to GET ``url``; FetchError (with URL and status) when it fails."""
        key = request_key(url, params)
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise ConfigError(
                f"unsupported URL scheme in {url!r}",
                location=Location(source=source or None, key=url),
                hint="sources fetch http(s) URLs; local files go through read_file",
            )
        real_params = {
            k: _resolve_secret(v, what=f"parameter {k}", source=source)
            for k, v in (params or {}).items()
        }
        real_headers = {"User-Agent": self.agent, "Accept-Encoding": "identity"}
        for name, value in (headers or {}).items():
            real_headers[name] = _resolve_secret(value, what=f"header {name}", source=source)
        real_url = request_key(url, real_params)
        host = urllib.parse.urlsplit(url).hostname or ""
        attempt = 0
        while True:
            self.limiter.wait(host)
            self.requests += 1
            try:
                return self._once(real_url, key, real_headers, accept_status, source)
            except HttpStatusError as exc:
                if exc.status not in RETRY_STATUSES or attempt >= self.retries:
                    raise
                delay = self._delay(attempt, exc.retry_after)
            except _TransientError as exc:
                if attempt >= self.retries:
                    raise FetchError(
                        f"{exc.reason} fetching {key} (after {attempt + 1} attempts)",
                        location=Location(source=source or None, key=key),
                        hint="the service did not answer in time; try again later, or "
                        "raise the timeout",
                    ) from exc.__cause__
                delay = self._delay(attempt, None)
            attempt += 1
            self.sleep(delay)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay = self.backoff * float(2**attempt)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, self.max_backoff)

    def _once(
        self,
        url: str,
        key: str,
        headers: Mapping[str, str],
        accept_status: tuple[int, ...],
        source: str,
    ) -> Response:
        request = urllib.request.Request(url, headers=dict(headers), method="GET")  # noqa: S310
        deadline = self.clock() + self.timeout
        try:
            handle = self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            body = self._read(exc, key, deadline, source) if exc.fp is not None else b""
            if exc.code in accept_status:
                return Response(key, exc.code, body, _media_type(exc.headers), dict(exc.headers))
            raise HttpStatusError(
                key,
                exc.code,
                body,
                source=source,
                retry_after=_retry_after(exc.headers.get("Retry-After")),
            ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _TransientError(f"network error ({reason})") from exc
        except HTTPException as exc:
            raise _TransientError(f"bad HTTP answer ({type(exc).__name__})") from exc
        with handle:
            body = self._read(handle, key, deadline, source)
            status = int(handle.status)
            return Response(key, status, body, _media_type(handle.headers), dict(handle.headers))

    def _read(
        self, handle: HTTPResponse | urllib.error.HTTPError, key: str, deadline: float, source: str
    ) -> bytes:
        declared = handle.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_big(key, source)
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := handle.read(_CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    raise self._too_big(key, source)
                if self.clock() > deadline:
                    raise _TransientError(f"timed out after {self.timeout:g} s")
                chunks.append(chunk)
        except (TimeoutError, ConnectionError, HTTPException, OSError) as exc:
            if isinstance(exc, FetchError):
                raise
            broken = f"connection broken while reading ({type(exc).__name__})"
            raise _TransientError(broken) from exc
        if declared and declared.isdigit() and size != int(declared):
            # http.client returns a short body quietly when the server closes early.
            raise _TransientError(f"answer truncated: {size} of {declared} bytes")
        return b"".join(chunks)

    def _too_big(self, key: str, source: str) -> FetchError:
        return FetchError(
            f"answer from {key} is larger than {self.max_bytes} bytes",
            location=Location(source=source or None, key=key),
            hint="narrow the request (a smaller key or period), or raise max_bytes",
        )


_shared: HttpClient | None = None
_shared_lock = threading.Lock()


def shared_client() -> HttpClient:
    """One client per process (default settings), so per-host rate limits hold across every
    source and context that does not bring its own client."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = HttpClient()
        return _shared


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) only (urllib would also follow them to ftp)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            raise FetchError(
                f"{req.full_url} redirects to a non-HTTP URL {newurl!r}",
                location=Location(key=req.full_url),
                hint="only http(s) redirects are followed",
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _TransientError(Exception):
    """A failure worth retrying (timeout, reset connection, truncated answer)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _media_type(headers: Mapping[str, str] | Message[str, str] | None) -> str:
    value = (headers or {}).get("Content-Type") or "application/octet-stream"
    return value.split(";")[0].strip().lower() or "application/octet-stream"


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
