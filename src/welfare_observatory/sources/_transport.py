"""The httpx transport under :class:`~welfare_observatory.sources.http.HttpClient`.

httpx applies its timeouts to each socket operation, so a server that sends one byte
just inside the read timeout keeps a request open for ever. This transport clips every
connect, read and write to the time left before the request's deadline (a context
variable set by the client around each attempt), which makes the deadline a total one.
Imported only when the first request goes out (httpx is not a cheap import).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

__all__ = ["DEADLINE", "make_client"]

DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "welfare_observatory_http_deadline", default=None
)
"""``time.monotonic()`` value after which no socket operation of this request may run."""


def _clip(timeout: float | None, timeout_type: type[Exception]) -> float | None:
    deadline = DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise timeout_type("total deadline reached")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clip(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clip(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        clipped = _clip(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, clipped))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        clipped = _clip(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, clipped, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        clipped = _clip(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, clipped, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def make_client(timeout: float, agent: str) -> httpx.Client:
    """A pooled client (keep-alive, gzip) whose sockets honour :data:`DEADLINE`."""
    transport = httpx.HTTPTransport()
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.ConnectionPool):
        # httpx builds its pool with the default backend and offers no public switch; the
        # pool's backend is the one place every socket operation passes through.
        pool._network_backend = _DeadlineBackend()
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": agent},
        follow_redirects=False,  # followed by HttpClient, which drops secrets across origins
    )
