"""The proxy's connection to the Redis its replicas share (rate-limit counters, session bindings).

One ``redis.asyncio`` client per event loop over a small blocking pool; every call is one script
(``EVALSHA``, ``EVAL`` once when the server has forgotten it) bounded by ``timeout``. While Redis
fails, callers get :class:`RedisUnavailable` at once for ``backoff`` seconds (they then use their
per-replica fallback), one WARNING is logged per outage and recovery is logged at INFO: the same
rule as the session store's.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import TYPE_CHECKING, Any

from agentcore_bridge.session_store import RedisScript, quiet_connection_options, redact_url

if TYPE_CHECKING:
    import redis.asyncio

logger = logging.getLogger(__name__)


class RedisUnavailable(Exception):
    """Redis did not answer (down, slow, refusing, or in its backoff after a failure)."""


class RedisLink:
    """Scripts on one Redis, from any event loop, failing fast during an outage."""

    def __init__(self, url: str, *, timeout: float = 0.25, backoff: float = 5.0) -> None:
        try:
            import redis.asyncio  # noqa: F401 - fail at start-up, not at the first request
        except ImportError as exc:
            raise ImportError(
                "a shared Redis needs redis-py: pip install 'agentcore-integrations[redis]'"
            ) from exc
        self._url = url
        self.safe_url = redact_url(url)
        self._timeout = timeout
        self._backoff = backoff
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis]
        self._clients = weakref.WeakKeyDictionary()
        self._down_since: float | None = None
        self._retry_at = 0.0

    def __repr__(self) -> str:
        return f"RedisLink({self.safe_url!r})"

    @property
    def available(self) -> bool:
        return self._down_since is None

    def _client(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            import redis.asyncio
            import redis.asyncio.retry
            import redis.backoff

            pool = redis.asyncio.BlockingConnectionPool.from_url(
                self._url,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                timeout=self._timeout,
                max_connections=50,
                decode_responses=True,
                retry=redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 0),
                **quiet_connection_options(),
            )
            client = redis.asyncio.Redis(connection_pool=pool)
            client.auto_close_connection_pool = True
            self._clients[loop] = client
        return client

    async def run(self, script: RedisScript, keys: list[str], args: list[Any]) -> Any:
        """The script's reply; RedisUnavailable when Redis fails or is in its backoff."""
        if self._down_since is not None:
            now = time.monotonic()
            if now < self._retry_at:
                raise RedisUnavailable(self.safe_url)
            self._retry_at = now + self._backoff  # this call probes; the others keep waiting
        import redis

        client = self._client()
        try:
            try:
                reply = await client.evalsha(script.sha, len(keys), *keys, *args)
            except redis.exceptions.NoScriptError:
                reply = await client.eval(script.source, len(keys), *keys, *args)
        except (redis.RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            raise RedisUnavailable(self.safe_url) from None
        if self._down_since is not None:
            logger.info(
                "shared Redis %s available again after %.1fs",
                self.safe_url,
                time.monotonic() - self._down_since,
            )
            self._down_since = None
        return reply

    async def ping(self) -> bool:
        import redis

        try:
            return bool(await self._client().ping())
        except (redis.RedisError, OSError, TimeoutError):
            return False

    def _failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._retry_at = now + self._backoff
        if self._down_since is None:
            self._down_since = now
            logger.warning(
                "shared Redis %s unavailable (%s); rate limits and session bindings are this "
                "replica's own until it is back (next try in %gs)",
                self.safe_url,
                type(exc).__name__,
                self._backoff,
            )

    async def aclose(self) -> None:
        """Close this event loop's connections."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
