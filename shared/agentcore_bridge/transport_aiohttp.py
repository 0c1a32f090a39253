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

from agentcore_bridge.errors import (
    ConnectError,
    StreamInterruptedError,
    TransportError,
)
from agentcore_bridge.transport import (
    HttpRequest,
    ProxyTable,
    ResponseHead,
    Timeouts,
    ca_bundle,
    deadline_left,
    split_proxy,
    timeout_error,
)


class AsyncResponse:
    def __init__(self, head: ResponseHead, raw: aiohttp.ClientResponse, timeouts: Timeouts) -> None:
        self.head = head
        self._raw = raw
        self._timeouts = timeouts

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while True:
                try:
                    chunk = await self._raw.content.readany()
                except TimeoutError as exc:
                    raise timeout_error(f"no data from the agent for {self._timeouts.read:g}s or "
                                         "the deadline passed") from exc  # fmt: skip
                except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, OSError) as exc:
                    raise StreamInterruptedError(
                        "the connection broke mid-response: the answer is incomplete"
                    ) from exc
                if not chunk:
                    return
                yield chunk
        finally:
            self.close()

    async def read_all(self, limit: int = 1 << 20) -> bytes:
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


class AsyncTransport:
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
                   deadline: float | None) -> AsyncResponse:  # fmt: skip
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
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as exc:
            raise TransportError(f"TLS failed: {exc}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise ConnectError(
                f"could not connect to {urlsplit(request.url).netloc}: {exc}"
            ) from exc
        except TimeoutError as exc:
            # aiohttp raises ConnectionTimeoutError (a TimeoutError) for the connect phase.
            if isinstance(exc, aiohttp.ConnectionTimeoutError):
                raise ConnectError(f"could not connect within {timeouts.connect:g}s") from exc
            raise timeout_error("no response headers in time") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise StreamInterruptedError(
                f"the connection broke before the response headers arrived: {exc}"
            ) from exc
        head = ResponseHead(raw.status, {k.lower(): v for k, v in raw.headers.items()})
        return AsyncResponse(head, raw, timeouts)

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
