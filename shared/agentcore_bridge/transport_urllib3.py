"""The sync HTTP shell, on urllib3 (already under botocore, so it costs no import).

urllib3 was chosen over httpx by measurement (benchmarks/sync_http_choice.py: 213 us of client
CPU per call against 371 us for httpx, first-event latency 0.58 ms against 0.66 ms).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import urllib3

from agentcore_bridge.transport import (
    ERROR_BODY_LIMIT,
    READ_SIZE,
    Failure,
    HttpRequest,
    ProxyTable,
    ResponseHead,
    Timeouts,
    ca_bundle,
    deadline_left,
    read_wait,
    split_proxy,
    transport_error,
)


def _send_failure(exc: BaseException) -> Failure:
    """urllib3's exceptions while sending and waiting for the head, as transport failures."""
    # NewConnectionError subclasses ConnectTimeoutError in urllib3: ask about it first.
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return Failure.CONNECT
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return Failure.CONNECT_TIMEOUT
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return Failure.HEAD_TIMEOUT
    if isinstance(exc, urllib3.exceptions.ProxyError):
        return Failure.PROXY
    if isinstance(exc, urllib3.exceptions.SSLError):
        return Failure.TLS
    # The request was sent: the agent may be running it. Never retried.
    return Failure.BROKEN_BEFORE_HEAD


class Urllib3Response:
    """A response whose body is read chunk by chunk, each chunk handed on as soon as it arrives.

    Every read waits at most the read timeout (or what is left of the deadline), set on the
    socket itself, so no wait outlives it whatever happens to the pool."""

    def __init__(
        self,
        head: ResponseHead,
        raw: urllib3.BaseHTTPResponse,
        timeouts: Timeouts,
        deadline: float | None,
    ) -> None:
        self.head = head
        self._raw = raw
        self._timeouts = timeouts
        self._deadline = deadline
        self._exhausted = False
        self._closed = False
        self._aborted = False
        connection = getattr(raw, "connection", None)
        self._sock: socket.socket | None = getattr(connection, "sock", None)

    def chunks(self) -> Iterator[bytes]:
        sock = self._sock
        applied: float | None = None
        try:
            while True:
                if self._aborted:
                    raise transport_error(Failure.CLIENT_CLOSED)
                wait, failure = read_wait(self._timeouts, self._deadline)
                if wait <= 0:
                    raise transport_error(Failure.DEADLINE)
                if sock is not None and wait != applied:
                    sock.settimeout(wait)
                    applied = wait
                try:
                    chunk = self._raw.read1(READ_SIZE)
                except (TimeoutError, urllib3.exceptions.ReadTimeoutError) as exc:
                    raise transport_error(failure, seconds=self._timeouts.read) from exc
                except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                    if self._aborted:
                        raise transport_error(Failure.CLIENT_CLOSED) from exc
                    raise transport_error(Failure.BROKEN_MID_BODY) from exc
                if not chunk:
                    if self._aborted:
                        raise transport_error(Failure.CLIENT_CLOSED)
                    self._exhausted = True
                    return
                yield chunk
        finally:
            self.close()

    def read_all(self, limit: int = ERROR_BODY_LIMIT) -> bytes:
        data = bytearray()
        for chunk in self.chunks():
            data += chunk
            if len(data) >= limit:
                break
        return bytes(data)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._exhausted:
            self._raw.close()  # a half-read connection cannot be reused: drop it
        self._raw.release_conn()

    def abort(self) -> None:
        self._aborted = True
        sock = self._sock
        if sock is not None and not self._closed:
            # Wakes a read blocked in another thread (closing alone would not).
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class Urllib3Transport:
    """urllib3 pools; ``HTTPS_PROXY``/``NO_PROXY`` and ``AWS_CA_BUNDLE`` honoured."""

    def __init__(self, *, verify: bool | str | None = None, max_connections: int = 64) -> None:
        ca = ca_bundle(verify)
        self._pool_kwargs: dict[str, Any] = {"maxsize": max_connections, "retries": False}
        if verify is False:
            self._pool_kwargs["cert_reqs"] = "CERT_NONE"
        elif ca:
            self._pool_kwargs["ca_certs"] = ca
        self._direct = urllib3.PoolManager(**self._pool_kwargs)
        self._proxied: dict[str, urllib3.ProxyManager] = {}
        self._proxies = ProxyTable()
        self._timeout_cache: tuple[tuple[float, float], urllib3.Timeout] | None = None
        self._lock = threading.Lock()

    def _opener(self, url: str) -> tuple[Callable[..., urllib3.BaseHTTPResponse], str]:
        """What sends to ``url``, and the URL to give it: a direct connection pool takes the
        path (no second parse of the whole URL per call); a proxy takes the absolute URL."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        proxy = self._proxies.proxy_for(parts.scheme, host)
        if proxy:
            with self._lock:
                if proxy not in self._proxied:
                    proxy_url, proxy_headers = split_proxy(proxy)
                    self._proxied[proxy] = urllib3.ProxyManager(
                        proxy_url, proxy_headers=proxy_headers, **self._pool_kwargs
                    )
                manager = self._proxied[proxy]
            return manager.urlopen, url
        pool = self._direct.connection_from_host(host, parts.port, parts.scheme)
        path = f"{parts.path}?{parts.query}" if parts.query else parts.path
        return pool.urlopen, path or "/"

    def send(
        self, request: HttpRequest, timeouts: Timeouts, deadline: float | None
    ) -> Urllib3Response:
        left = deadline_left(deadline)
        read = timeouts.read if left is None else max(0.001, min(left, timeouts.read))
        try:
            urlopen, url = self._opener(request.url)
            raw = urlopen(
                request.method,
                url,
                body=request.body,
                headers=dict(request.headers),
                timeout=self._timeout(timeouts.connect, read),
                preload_content=False,
                redirect=False,
                retries=False,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            failure = _send_failure(exc)
            seconds = timeouts.connect if failure is Failure.CONNECT_TIMEOUT else read
            where = urlsplit(request.url).netloc
            raise transport_error(failure, where=where, detail=exc, seconds=seconds) from exc
        head = ResponseHead(raw.status, {k.lower(): v for k, v in raw.headers.items()})
        return Urllib3Response(head, raw, timeouts, deadline)

    def _timeout(self, connect: float, read: float) -> urllib3.Timeout:
        cached = self._timeout_cache
        if cached is None or cached[0] != (connect, read):
            timeout = urllib3.Timeout(connect=connect, read=read)
            cached = self._timeout_cache = ((connect, read), timeout)
        return cached[1]

    def close(self) -> None:
        self._direct.clear()
        with self._lock:
            for manager in self._proxied.values():
                manager.clear()
            self._proxied.clear()
