"""The HTTP client every source uses: timeouts, bounded retries, per-host rate limits.

Built on httpx (one pooled client per process: keep-alive connections, gzip) with
tenacity for the retries. Istat's SDMX service allows about 5 requests a minute per
address and blocks addresses that exceed it, so the default limits are per host, and a
limiter given a state file holds them across processes (every Dask worker on a machine
shares one bucket per host). Retries back off exponentially; the sleep and the clock are
injectable so tests never wait. ``timeout`` is a total deadline per attempt: a server
that trickles bytes cannot keep a request open past it. Header (and parameter) values
written ``env:VAR_NAME`` are read from the environment at request time: the request key,
the cache index and every error message carry the ``env:`` text, never the secret, and
such headers (and ``Authorization``/``Cookie``) are dropped when a redirect leaves the
origin.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
    import tenacity

from welfare_observatory.errors import ConfigError, FetchError, Location

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "HttpClient",
    "HttpStatusError",
    "RateLimiter",
    "Response",
    "default_rate_state",
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
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
"""Headers never sent to another origin than the one they were configured for."""


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


_SOURCE_DEADLINE: ContextVar[float | None] = ContextVar(
    "welfare_observatory_source_deadline", default=None
)


def default_rate_state() -> Path:
    """Where the shared client keeps its rate-limit buckets (one file per user and machine,
    so every process and local Dask worker draws from the same bucket)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "welfare-observatory" / "rate-limits.sqlite"


class RateLimiter:
    """A token bucket per host: ``rate`` requests per minute, at most ``burst`` at once.

    With ``state`` (a SQLite file) the buckets live on disk and every process using the
    same file shares them: a reservation is one ``BEGIN IMMEDIATE`` transaction, which
    SQLite serialises across processes. Without it they live in this object (threads of
    one process share them). The default ``burst`` of 1 spaces requests ``60/rate``
    seconds apart.
    """

    def __init__(
        self,
        limits: Mapping[str, float] | None = None,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        state: Path | str | None = None,
        burst: float = 1.0,
    ) -> None:
        self.limits = {
            h.lower(): r for h, r in (DEFAULT_RATE_LIMITS if limits is None else limits).items()
        }
        for host, rate in self.limits.items():
            if rate <= 0:
                raise ConfigError(f"rate limit for {host!r} must be positive, not {rate}")
        if burst < 1:
            raise ConfigError(f"a rate-limit burst must be at least 1, not {burst}")
        self.state = Path(state) if state is not None else None
        self.burst = float(burst)
        # Across processes only wall-clock time compares; inside one, monotonic is safer.
        self._clock = clock or (time.time if self.state is not None else time.monotonic)
        self._sleep = sleep
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Travels to Dask workers with the build environment: the state file goes along
        # (so the copy shares the buckets); a thread lock cannot, and is made anew.
        state = self.__dict__.copy()
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def wait(self, host: str) -> float:
        """Block until a request to ``host`` is allowed; returns the seconds waited."""
        host = host.lower()
        rate = self.limits.get(host)
        if rate is None:
            return 0.0
        delay = self._reserve(host, rate)
        if delay > 0:
            self._sleep(delay)
        return delay

    def _reserve(self, host: str, rate: float) -> float:
        if self.state is not None:
            try:
                return self._reserve_shared(host, rate)
            except (sqlite3.Error, OSError) as exc:
                warnings.warn(
                    f"rate-limit state {self.state} is unusable ({exc}); limiting this "
                    "process only",
                    RuntimeWarning,
                    stacklevel=3,
                )
                self.state = None
        with self._lock:
            now = self._clock()
            tokens, delay = _take(self._buckets.get(host), rate, self.burst, now)
            self._buckets[host] = (tokens, now)
        return delay

    def _reserve_shared(self, host: str, rate: float) -> float:
        assert self.state is not None
        self.state.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.state, timeout=60.0, isolation_level=None)
        try:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS bucket "
                "(host TEXT PRIMARY KEY, tokens REAL NOT NULL, updated REAL NOT NULL)"
            )
            connection.execute("BEGIN IMMEDIATE")
            try:
                row = connection.execute(
                    "SELECT tokens, updated FROM bucket WHERE host = ?", (host,)
                ).fetchone()
                now = self._clock()
                tokens, delay = _take(row, rate, self.burst, now)
                connection.execute(
                    "INSERT OR REPLACE INTO bucket (host, tokens, updated) VALUES (?, ?, ?)",
                    (host, tokens, now),
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        finally:
            connection.close()
        return delay


def _take(
    bucket: tuple[float, float] | None, rate: float, burst: float, now: float
) -> tuple[float, float]:
    """Take one token: the bucket's new level (negative: reserved ahead) and the wait.

    The level refills at ``rate`` per minute up to ``burst``; a negative level is the
    queue of requests already promised a later slot, so the wait is its depth in time.
    """
    tokens, updated = bucket if bucket is not None else (burst, now)
    tokens = min(burst, tokens + max(0.0, now - updated) * rate / 60.0) - 1.0
    return tokens, max(0.0, -tokens * 60.0 / rate)


class HttpClient:
    """GET with a total timeout, bounded retries, exponential backoff, per-host rate limits.

    ``rate_limits`` (requests per minute, by host name) replaces ``DEFAULT_RATE_LIMITS``
    when given (``{}``: no limit); ``rate_state`` (a SQLite file) makes the limits hold
    across processes, and ``limiter`` shares one limiter between clients. ``timeout`` (s)
    bounds each attempt from connect to last byte. Connections are pooled and reused:
    share one client (see :func:`shared_client`) across the sources of a build.
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
        rate_state: Path | str | None = None,
        limiter: RateLimiter | None = None,
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
        self.limiter = limiter or RateLimiter(
            rate_limits,
            clock=None if rate_state is not None else clock,
            sleep=sleep,
            state=rate_state,
        )
        self.agent = agent or user_agent()
        self._client: httpx.Client | None = None
        self._client_pid = 0
        self._client_lock = threading.Lock()
        self.requests = 0
        """How many requests went out (retries and redirects included): tests read it."""

    def __getstate__(self) -> dict[str, Any]:
        # A pooled connection cannot travel to another process; the copy opens its own.
        state = self.__dict__.copy()
        state.update(_client=None, _client_pid=0, _client_lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._client_lock = threading.Lock()

    def close(self) -> None:
        """Close the pooled connections (the next request opens new ones)."""
        with self._client_lock:
            if self._client is not None:
                self._client.close()
            self._client = None

    def _http(self) -> httpx.Client:
        with self._client_lock:
            # After a fork the pool's sockets belong to the parent: never share them.
            if self._client is None or self._client_pid != os.getpid():
                from welfare_observatory.sources._transport import make_client

                self._client = make_client(self.timeout, self.agent)
                self._client_pid = os.getpid()
            return self._client

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Within the block, every request of this thread (retries, backoff and rate-limit
        waits included) ends by ``seconds`` from now: the per-source time budget."""
        until = time.monotonic() + seconds
        outer = _SOURCE_DEADLINE.get()
        token = _SOURCE_DEADLINE.set(until if outer is None else min(outer, until))
        try:
            yield
        finally:
            _SOURCE_DEADLINE.reset(token)

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
        import tenacity

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
        real_headers: dict[str, str] = {}
        secret = set(CREDENTIAL_HEADERS)
        for name, value in (headers or {}).items():
            real_headers[name] = _resolve_secret(value, what=f"header {name}", source=source)
            if value.startswith("env:"):
                secret.add(name.lower())
        real_url = request_key(url, real_params)
        host = urllib.parse.urlsplit(url).hostname or ""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retries + 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception(_retryable),
            sleep=self._backoff_sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._check_source_deadline(key, source)
                    self.limiter.wait(host)
                    self._check_source_deadline(key, source)
                    return self._once(real_url, key, real_headers, secret, accept_status, source)
        except _TransientError as exc:
            tries = retrying.statistics.get("attempt_number", 1)
            raise FetchError(
                f"{exc.reason} fetching {key} (after {tries} attempts)",
                location=Location(source=source or None, key=key),
                hint="the service did not answer in time; try again later, or raise the timeout",
            ) from exc.__cause__
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        retry_after = error.retry_after if isinstance(error, HttpStatusError) else None
        return self._delay(state.attempt_number - 1, retry_after)

    def _backoff_sleep(self, seconds: float) -> None:
        until = _SOURCE_DEADLINE.get()
        if until is not None and time.monotonic() + seconds > until:
            raise _TransientError("the source's time budget ends before the next attempt")
        self.sleep(seconds)

    def _check_source_deadline(self, key: str, source: str) -> None:
        until = _SOURCE_DEADLINE.get()
        if until is not None and time.monotonic() >= until:
            raise FetchError(
                f"the source's time budget ran out before fetching {key}",
                location=Location(source=source or None, key=key),
                hint="raise the source's timeout, or narrow what it fetches",
            )

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
        secret: set[str],
        accept_status: tuple[int, ...],
        source: str,
    ) -> Response:
        import httpx

        from welfare_observatory.sources._transport import DEADLINE

        deadline = time.monotonic() + self.timeout
        until = _SOURCE_DEADLINE.get()
        if until is not None:
            deadline = min(deadline, until)
        token = DEADLINE.set(deadline)
        current, sent = url, dict(headers)
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                self.requests += 1
                with self._http().stream("GET", current, headers=sent) as answer:
                    target = answer.headers.get("Location")
                    if answer.status_code in REDIRECT_STATUSES and target:
                        following = urllib.parse.urljoin(current, target)
                        if urllib.parse.urlsplit(following).scheme not in ("http", "https"):
                            raise FetchError(
                                f"{key} redirects to a non-HTTP URL {following!r}",
                                location=Location(source=source or None, key=key),
                                hint="only http(s) redirects are followed",
                            )
                        if _origin(following) != _origin(current):
                            sent = {n: v for n, v in sent.items() if n.lower() not in secret}
                        current = following
                        continue
                    body = self._read(answer, key, deadline, source)
                    status = answer.status_code
                    media = _media_type(answer.headers.get("Content-Type"))
                    found = dict(answer.headers)
                if 200 <= status < 300 or status in accept_status:
                    return Response(key, status, body, media, found)
                raise HttpStatusError(
                    key,
                    status,
                    body,
                    source=source,
                    retry_after=_retry_after(found.get("retry-after")),
                )
            raise FetchError(
                f"{key} redirects more than {MAX_REDIRECTS} times",
                location=Location(source=source or None, key=key),
                hint="check the URL: the service sends it round in circles",
            )
        except httpx.TimeoutException as exc:
            raise _TransientError(f"timed out after {self.timeout:g} s") from exc
        except httpx.TransportError as exc:
            raise _TransientError(f"network error ({exc or type(exc).__name__})") from exc
        finally:
            DEADLINE.reset(token)

    def _read(self, answer: httpx.Response, key: str, deadline: float, source: str) -> bytes:
        import httpx

        declared = answer.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_big(key, source)
        chunks: list[bytes] = []
        size = 0
        try:
            # Decoded bytes (gzip undone) count against the bound: a small compressed
            # answer may not unpack into gigabytes.
            for chunk in answer.iter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise self._too_big(key, source)
                if time.monotonic() > deadline:
                    raise _TransientError(f"timed out after {self.timeout:g} s")
                chunks.append(chunk)
        except httpx.RemoteProtocolError as exc:
            if declared and declared.isdigit():
                got = answer.num_bytes_downloaded
                raise _TransientError(f"answer truncated: {got} of {declared} bytes") from exc
            raise _TransientError(f"connection broken while reading ({exc})") from exc
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
    """One client per process (default settings, pooled connections), whose per-host rate
    limits live in :func:`default_rate_state`, so they hold across every source, context,
    process and local Dask worker that does not bring its own client."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = HttpClient(rate_state=default_rate_state())
        return _shared


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _retryable(error: BaseException) -> bool:
    if isinstance(error, HttpStatusError):
        return error.status in RETRY_STATUSES
    return isinstance(error, _TransientError)


class _TransientError(Exception):
    """A failure worth retrying (timeout, reset connection, truncated answer)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _media_type(value: str | None) -> str:
    value = value or "application/octet-stream"
    return value.split(";")[0].strip().lower() or "application/octet-stream"


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
