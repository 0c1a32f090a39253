"""The async HTTP shell, on aiohttp: imported by the client on first async use only, so a
sync caller (a serverless function, a script) does not pay aiohttp's import."""

from __future__ import annotations

import asyncio
import ssl
import weakref
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
import yarl

from agentcore_bridge.transport import (
    ERROR_BODY_LIMIT,
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
    """aiohttp's exceptions while sending and waiting for the head, as transport failures."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return Failure.TLS
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Failure.CONNECT
    # ConnectionTimeoutError is a TimeoutError raised for the connect phase only.
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return Failure.CONNECT_TIMEOUT
    if isinstance(exc, TimeoutError):
        return Failure.HEAD_TIMEOUT
    return Failure.BROKEN_BEFORE_HEAD


class AiohttpResponse:
    """A response read chunk by chunk. Every wait for bytes is bounded by our own timer (the
    read timeout, or what is left of the deadline), not only by aiohttp's socket timeout: a
    connection closed under the reader, or a session torn down, cannot leave it waiting."""

    def __init__(
        self,
        head: ResponseHead,
        raw: aiohttp.ClientResponse,
        timeouts: Timeouts,
        deadline: float | None,
    ) -> None:
        self.head = head
        self._raw = raw
        self._timeouts = timeouts
        self._deadline = deadline
        self._aborted = False
        self._loop = asyncio.get_running_loop()

    async def chunks(self) -> AsyncIterator[bytes]:
        content = self._raw.content
        try:
            while True:
                if self._aborted:
                    raise transport_error(Failure.CLIENT_CLOSED)
                wait, failure = read_wait(self._timeouts, self._deadline)
                if wait <= 0:
                    raise transport_error(Failure.DEADLINE)
                try:
                    # Bytes already received are taken without a wait, so without a timer
                    # (a small body usually arrives with its head); only a real wait is timed.
                    chunk = content.read_nowait()
                    if not chunk and not content.at_eof():
                        async with asyncio.timeout(wait):
                            chunk = await content.readany()
                except TimeoutError as exc:
                    raise transport_error(failure, seconds=self._timeouts.read) from exc
                except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError) as exc:
                    if self._aborted:
                        raise transport_error(Failure.CLIENT_CLOSED) from exc
                    raise transport_error(Failure.BROKEN_MID_BODY) from exc
                if not chunk:
                    if self._aborted:
                        raise transport_error(Failure.CLIENT_CLOSED)
                    return
                yield chunk
        finally:
            self.close()

    async def read_all(self, limit: int = ERROR_BODY_LIMIT) -> bytes:
        data = bytearray()
        async for chunk in self.chunks():
            data += chunk
            if len(data) >= limit:
                break
        return bytes(data)

    def close(self) -> None:
        # release() returns a fully read connection to the pool; close() drops a half-read one.
        if self._raw.content.at_eof():
            self._raw.release()
        else:
            self._raw.close()

    def abort(self) -> None:
        self._aborted = True
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._wake()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        # A reader waiting in readany() gets this error at once.
        self._raw.content.set_exception(aiohttp.ClientConnectionError("client closed"))
        self._raw.close()


class AiohttpTransport:
    """aiohttp, one ClientSession per event loop (a session cannot outlive or change its loop).

    ``HTTPS_PROXY``/``NO_PROXY`` come from a :class:`ProxyTable` read once, not from aiohttp's
    ``trust_env`` (two worker-thread hops per request, and a ``~/.netrc`` entry for the host
    would clash with our Authorization header). The URL is passed as
    ``yarl.URL(url, encoded=True)`` so the ARN's ``%3A`` reaches the wire as it was signed.
    """

    def __init__(self, *, verify: bool | str | None = None, max_connections: int = 0) -> None:
        self._verify = verify
        self._max_connections = max_connections
        self._proxies = ProxyTable()
        self._proxy_urls: dict[str, tuple[yarl.URL, dict[str, str]]] = {}
        self._sessions: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, AsyncIterator[None]]
        ] = weakref.WeakKeyDictionary()

    def _ssl(self) -> ssl.SSLContext | bool:
        if self._verify is False:
            return False
        ca = ca_bundle(self._verify)
        return ssl.create_default_context(cafile=ca) if ca else True

    async def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        entry = self._sessions.get(loop)
        if entry is None or entry[0].closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl())
            session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
            guard = _close_with_loop(session)
            await guard.__anext__()
            entry = (session, guard)
            self._sessions[loop] = entry
        return entry[0]

    async def send(self, request: HttpRequest, timeouts: Timeouts,
                   deadline: float | None) -> AiohttpResponse:  # fmt: skip
        left = deadline_left(deadline)
        timeout = aiohttp.ClientTimeout(
            total=None if left is None else max(0.001, left),
            sock_connect=timeouts.connect,
            sock_read=timeouts.read,
        )
        url = yarl.URL(request.url, encoded=True)
        headers = dict(request.headers)
        proxy, proxy_headers = self._proxy(url)
        if proxy_headers and url.scheme == "http":
            # Plain HTTP goes to the proxy as an absolute-URI request: its credentials travel
            # as a header of that request (aiohttp sends proxy_headers only on CONNECT).
            headers.update(proxy_headers)
        try:
            session = await self._session()
            raw = await session.request(
                request.method,
                url,
                data=request.body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                proxy=proxy,
                proxy_headers=proxy_headers,
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            failure = _send_failure(exc)
            seconds = timeouts.connect if failure is Failure.CONNECT_TIMEOUT else timeouts.read
            where = urlsplit(request.url).netloc
            raise transport_error(failure, where=where, detail=exc, seconds=seconds) from exc
        head = ResponseHead(raw.status, {k.lower(): v for k, v in raw.headers.items()})
        return AiohttpResponse(head, raw, timeouts, deadline)

    def _proxy(self, url: yarl.URL) -> tuple[yarl.URL | None, dict[str, str] | None]:
        proxy = self._proxies.proxy_for(url.scheme, url.host or "")
        if proxy is None:
            return None, None
        if proxy not in self._proxy_urls:
            proxy_url, proxy_headers = split_proxy(proxy)
            self._proxy_urls[proxy] = (yarl.URL(proxy_url), proxy_headers)
        return self._proxy_urls[proxy]

    async def aclose(self) -> None:
        """Close this event loop's session (call from the loop that used the transport)."""
        entry = self._sessions.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[0].close()


async def _close_with_loop(session: aiohttp.ClientSession) -> AsyncIterator[None]:
    """Closes ``session`` when its event loop shuts down.

    An async generator first iterated in a loop is finalised by that loop's
    ``shutdown_asyncgens()`` (``asyncio.run`` and pytest-asyncio call it): so a client used under
    several ``asyncio.run`` calls, and never closed, still leaves no unclosed session behind.
    """
    try:
        yield
    finally:
        if not session.closed:
            await session.close()
