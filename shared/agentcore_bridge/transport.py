"""The transport seam: what the client asks of an HTTP shell, sync and async, and the one table
that turns every low-level failure into the package's error tree.

``AgentCoreClient`` signs a request and hands it to a :class:`Transport` (or
:class:`AsyncTransport`); it gets back a response whose body arrives chunk by chunk. The shells
shipped here are ``transport_urllib3.Urllib3Transport`` (sync), ``transport_aiohttp.
AiohttpTransport`` (async, imported on first async use) and ``mock_transport.MockTransport``
(in memory, both, for fast tests). A shell's only job is moving bytes: it names what went wrong
with a :class:`Failure`, and :func:`transport_error` makes the typed error, so the sync and async
paths fail the same way.
"""

from __future__ import annotations

import base64
import os
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

from agentcore_bridge.errors import (
    AgentCoreError,
    AgentCoreTimeoutError,
    ConnectError,
    StreamInterruptedError,
    TransportError,
)

READ_SIZE = 65536
ERROR_BODY_LIMIT = 1 << 20
"""How much of an error response's body is read: error bodies are small JSON documents."""


# --- request / response ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timeouts:
    """``connect``: to open a connection; ``read``: the longest silence between two reads (a
    non-streaming agent sends nothing until it is done, so this covers its whole run);
    ``total``: a deadline for the whole call, streams included (None: no deadline)."""

    connect: float = 10.0
    read: float = 900.0
    total: float | None = None


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    """Absolute URL whose path is already percent-encoded (the ARN as one segment)."""
    headers: Mapping[str, str] = field(repr=False)
    """Signed: they carry the Authorization header (a bearer token, for OAuth runtimes)."""
    body: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ResponseHead:
    status: int
    headers: Mapping[str, str]
    """Lower-case names."""

    def get(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Response(Protocol):
    """A sync response: the head is known, the body is read chunk by chunk."""

    head: ResponseHead

    def chunks(self) -> Iterator[bytes]:
        """Body bytes as they arrive; raises a :func:`transport_error` on a failure, and
        :attr:`Failure.CLIENT_CLOSED`'s error once :meth:`abort` was called."""
        ...

    def read_all(self, limit: int = ERROR_BODY_LIMIT) -> bytes: ...

    def close(self) -> None:
        """Release the connection (a half-read one is dropped, not reused). Idempotent."""
        ...

    def abort(self) -> None:
        """End the body from elsewhere (another thread, ``client.close()``): a blocked or later
        read raises the ``CLIENT_CLOSED`` error instead of waiting."""
        ...


class AsyncResponse(Protocol):
    head: ResponseHead

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def read_all(self, limit: int = ERROR_BODY_LIMIT) -> bytes: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class Transport(Protocol):
    """A sync HTTP shell (like httpx's ``BaseTransport``)."""

    def send(self, request: HttpRequest, timeouts: Timeouts, deadline: float | None) -> Response:
        """Send ``request`` and return once the response head arrived. ``deadline`` is a
        ``time.monotonic()`` instant no wait may pass."""
        ...

    def close(self) -> None: ...


class AsyncTransport(Protocol):
    """The async twin of :class:`Transport`."""

    async def send(
        self, request: HttpRequest, timeouts: Timeouts, deadline: float | None
    ) -> AsyncResponse: ...

    async def aclose(self) -> None: ...


# --- failures ---------------------------------------------------------------------------------


class Failure(Enum):
    """What went wrong at the transport level, named the same way by every shell."""

    CONNECT = "connect"
    CONNECT_TIMEOUT = "connect_timeout"
    PROXY = "proxy"
    TLS = "tls"
    HEAD_TIMEOUT = "head_timeout"
    BROKEN_BEFORE_HEAD = "broken_before_head"
    READ_TIMEOUT = "read_timeout"
    DEADLINE = "deadline"
    BROKEN_MID_BODY = "broken_mid_body"
    CLIENT_CLOSED = "client_closed"


# The one table: failure -> (error class, message). Only failures where nothing can have reached
# the agent map to a retryable class (ConnectError); anything after the request was sent is
# never retried, since invoking an agent is not idempotent.
FAILURES: dict[Failure, tuple[type[AgentCoreError], str]] = {
    Failure.CONNECT: (ConnectError, "could not connect to {where}: {detail}"),
    Failure.CONNECT_TIMEOUT: (ConnectError, "could not connect to {where} within {seconds:g}s"),
    Failure.PROXY: (ConnectError, "the proxy refused or failed: {detail}"),
    Failure.TLS: (TransportError, "TLS failed: {detail}"),
    Failure.HEAD_TIMEOUT: (
        AgentCoreTimeoutError,
        "no response within {seconds:g}s; raise the timeout if the agent needs longer",
    ),
    Failure.BROKEN_BEFORE_HEAD: (
        StreamInterruptedError,
        "the connection broke before the response headers arrived: {detail}",
    ),
    Failure.READ_TIMEOUT: (
        AgentCoreTimeoutError,
        "no data from the agent for {seconds:g}s (read_timeout); raise it if the agent "
        "needs longer",
    ),
    Failure.DEADLINE: (
        AgentCoreTimeoutError,
        "the call's total deadline (timeout) passed; raise the timeout if the agent needs longer",
    ),
    Failure.BROKEN_MID_BODY: (
        StreamInterruptedError,
        "the connection broke mid-response: the answer is incomplete",
    ),
    Failure.CLIENT_CLOSED: (
        StreamInterruptedError,
        "the client was closed while this response was being read: the answer is incomplete",
    ),
}


def transport_error(
    failure: Failure, *, where: str = "", detail: object = "", seconds: float = 0.0
) -> AgentCoreError:
    """The typed error for ``failure`` (``raise transport_error(...) from exc`` keeps the cause)."""
    cls, template = FAILURES[failure]
    return cls(template.format(where=where, detail=detail, seconds=seconds))


def read_wait(timeouts: Timeouts, deadline: float | None) -> tuple[float, Failure]:
    """How long the next read may wait, and which failure it is when that wait runs out: the
    read timeout, or less when the call's deadline comes first."""
    if deadline is None:
        return timeouts.read, Failure.READ_TIMEOUT
    left = deadline - time.monotonic()
    if left < timeouts.read:
        return max(left, 0.0), Failure.DEADLINE
    return timeouts.read, Failure.READ_TIMEOUT


# --- what both shells share -------------------------------------------------------------------


def ca_bundle(verify: bool | str | None) -> str | None:
    if isinstance(verify, str):
        return verify
    return os.environ.get("AWS_CA_BUNDLE") or None


def deadline_left(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


class ProxyTable:
    """``HTTP(S)_PROXY``/``NO_PROXY`` read once (scanning the environment costs ~0.1 ms, and
    aiohttp's ``trust_env`` does it in a worker thread on every request, netrc lookup included).
    """

    def __init__(self) -> None:
        self._proxies = urllib.request.getproxies()
        self._bypass: dict[str, bool] = {}

    def proxy_for(self, scheme: str, host: str) -> str | None:
        proxy = self._proxies.get(scheme)
        if not proxy:
            return None
        if host not in self._bypass:
            self._bypass[host] = bool(urllib.request.proxy_bypass(host))
        return None if self._bypass[host] else proxy


def split_proxy(proxy: str) -> tuple[str, dict[str, str]]:
    """``http://user:pass@host:port`` -> the URL without credentials, and the
    ``Proxy-Authorization`` header that carries them (to the proxy only)."""
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if parts.username is None:
        return urlunsplit(parts), {}
    user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    token = base64.b64encode(user_pass.encode()).decode()
    bare = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return urlunsplit(bare), {"Proxy-Authorization": f"Basic {token}"}
