"""Which AgentCore sessions a deployment has already sent to: the basis of the history rule,
shared between processes and replicas, with AgentCore's session lifecycle.

An AgentCore runtime session remembers what it was sent while it lives. It ends when it has
been idle longer than the idle timeout (15 minutes by default) or has lived longer than its
maximum lifetime (8 hours); a later call with the same id starts a fresh microVM that remembers
nothing. So a record here counts as *live* while

    now - last_used_at < idle_timeout   and   now - created_at < max_lifetime

and a session whose record is absent or not live is new again (it gets the whole conversation).

The one operation the history rule needs is :meth:`SessionStore.exchange`: atomically read the
live record and write the new one, so that two replicas sending to one session at once cannot
both believe they are first (or both believe the other one was). If the agent then does not
accept the call, :meth:`SessionStore.restore` puts the previous record back.

Records hold a SHA-256 of the system text and timestamps: never message content.

* :class:`MemorySessionStore`: this process only (what ``SessionMemory`` did), bounded LRU.
* :class:`RedisSessionStore`: one Redis shared by every process; one round trip per exchange
  (a Lua script); falls back to an in-process store while Redis is down or slow.
* :func:`session_store_from`: ``"memory"``, a ``redis://``/``rediss://`` URL, a store object,
  or None for the ``AGENTCORE_SESSION_STORE`` environment variable.

Every mistake this module can make errs towards sending *more* history than needed (a session
looks new, or its system text looks changed), never less.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from agentcore_bridge.errors import InvalidRequestError

if TYPE_CHECKING:
    import redis
    import redis.asyncio

logger = logging.getLogger(__name__)

DEFAULT_IDLE_TIMEOUT = 900.0
"""Seconds: AgentCore ends a runtime session idle this long (its default idle timeout)."""
DEFAULT_MAX_LIFETIME = 28_800.0
"""Seconds: AgentCore ends a runtime session this old, busy or not (its default lifetime)."""
ENV_VAR = "AGENTCORE_SESSION_STORE"
PREFIX_ENV_VAR = "AGENTCORE_SESSION_STORE_PREFIX"
"""The Redis key prefix for stores made from a URL (default ``agentcore:session:``)."""


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """What a store knows about one session."""

    system_hash: str | None
    """SHA-256 (hex) of the system text last sent to the session (see :func:`system_hash`);
    None when that call had no system text. Never the text itself."""
    created_at: float
    """Epoch seconds of the first call of this incarnation of the session."""
    last_used_at: float
    """Epoch seconds of the latest call."""

    def is_live(self, now: float, *, idle_timeout: float, max_lifetime: float) -> bool:
        """Whether AgentCore still holds this session at ``now`` (epoch seconds)."""
        return now - self.last_used_at < idle_timeout and now - self.created_at < max_lifetime


@runtime_checkable
class SessionStore(Protocol):
    """Where the history rule keeps its records. Implementations must be safe to share between
    threads; the ``a``-prefixed twins are for event loops."""

    def exchange(
        self,
        session_id: str,
        system_hash: str | None,
        *,
        idle_timeout: float,
        max_lifetime: float,
    ) -> SessionRecord | None:
        """Atomically: return the session's live record (None if absent or expired under the
        idle/lifetime rule) and replace it with ``(system_hash, created_at kept from the live
        record else now, last_used_at=now)``. ``system_hash`` is :func:`system_hash` of the
        call's system text (None without one): the stores refuse anything else."""
        ...

    async def aexchange(
        self,
        session_id: str,
        system_hash: str | None,
        *,
        idle_timeout: float,
        max_lifetime: float,
    ) -> SessionRecord | None: ...

    def restore(self, session_id: str, previous: SessionRecord | None) -> None:
        """Undo an :meth:`exchange` whose call the agent did not accept: put ``previous`` (what
        that exchange returned) back, or delete the record when it was None."""
        ...

    async def arestore(self, session_id: str, previous: SessionRecord | None) -> None: ...

    def forget(self, session_id: str) -> None:
        """Drop the session's record: its next call sends the whole conversation."""
        ...

    async def aforget(self, session_id: str) -> None: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


def system_hash(text: str | None) -> str | None:
    """The SHA-256 (hex) of a system text, as records keep it; None stays None."""
    if text is None:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def check_system_hash(value: object) -> None:
    """A record keeps a digest, never a system text: refuse anything but SHA-256 hex or None."""
    if value is not None and (not isinstance(value, str) or not _SHA256_HEX.fullmatch(value)):
        raise InvalidRequestError(
            "system_hash must be None or a SHA-256 hex digest (use system_hash(text)); "
            "a session store never keeps the text itself"
        )


def check_timeouts(idle_timeout: float, max_lifetime: float) -> None:
    # The usual case, per call: a client's own settings, already checked and made floats.
    if (
        type(idle_timeout) is float
        and type(max_lifetime) is float
        and 0.0 < idle_timeout < math.inf
        and 0.0 < max_lifetime < math.inf
    ):
        return
    for name, value in (("idle_timeout", idle_timeout), ("max_lifetime", max_lifetime)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise InvalidRequestError(f"{name} must be a positive number of seconds, got {value!r}")


@dataclass(slots=True)
class _Entry:
    record: SessionRecord
    idle_timeout: float
    max_lifetime: float

    def is_live(self, now: float) -> bool:
        return self.record.is_live(
            now, idle_timeout=self.idle_timeout, max_lifetime=self.max_lifetime
        )


class MemorySessionStore:
    """Records in this process: bounded (least recently used first out), safe between threads.

    Its async methods call the sync ones (no I/O). ``clock`` (epoch seconds, default
    ``time.time``) can be replaced in tests. A pickled store starts empty in its new home,
    with the default clock.
    """

    def __init__(self, max_sessions: int = 10_000, *, clock: Callable[[], float] = time.time):
        if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) or max_sessions < 1:
            raise ValueError("max_sessions must be an integer of at least 1")
        self._max = max_sessions
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def max_sessions(self) -> int:
        return self._max

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, session_id: object) -> bool:
        """Whether a record (live or not yet swept) is held for ``session_id``."""
        with self._lock:
            return session_id in self._entries

    def __repr__(self) -> str:
        return f"MemorySessionStore(max_sessions={self._max})"

    def peek(self, session_id: str) -> SessionRecord | None:
        """The record held for ``session_id``, live or not, without touching it."""
        with self._lock:
            entry = self._entries.get(session_id)
            return None if entry is None else entry.record

    def exchange(
        self,
        session_id: str,
        system_hash: str | None,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_lifetime: float = DEFAULT_MAX_LIFETIME,
    ) -> SessionRecord | None:
        check_system_hash(system_hash)
        check_timeouts(idle_timeout, max_lifetime)
        now = self._clock()
        with self._lock:
            entry = self._entries.pop(session_id, None)
            previous = None
            if entry is not None and entry.record.is_live(
                now, idle_timeout=idle_timeout, max_lifetime=max_lifetime
            ):
                previous = entry.record
            created = previous.created_at if previous is not None else now
            self._entries[session_id] = _Entry(
                SessionRecord(system_hash, created, now), idle_timeout, max_lifetime
            )
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
            # Sweep expired records from the least recently used end (amortised O(1)), so a
            # store under its bound does not keep dead sessions around.
            entries = self._entries
            while entries:
                if next(iter(entries.values())).is_live(now):
                    break
                entries.popitem(last=False)
        return previous

    def restore(self, session_id: str, previous: SessionRecord | None) -> None:
        if previous is not None:
            check_system_hash(previous.system_hash)
        now = self._clock()
        with self._lock:
            entry = self._entries.get(session_id)
            if entry is None:
                return  # forgotten or expired since: leave it new
            if previous is None:
                del self._entries[session_id]
                return
            restored = _Entry(previous, entry.idle_timeout, entry.max_lifetime)
            if restored.is_live(now):
                self._entries[session_id] = restored
            else:
                del self._entries[session_id]

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._entries.pop(session_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def close(self) -> None:
        pass

    async def aexchange(
        self,
        session_id: str,
        system_hash: str | None,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_lifetime: float = DEFAULT_MAX_LIFETIME,
    ) -> SessionRecord | None:
        return self.exchange(
            session_id, system_hash, idle_timeout=idle_timeout, max_lifetime=max_lifetime
        )

    async def arestore(self, session_id: str, previous: SessionRecord | None) -> None:
        self.restore(session_id, previous)

    async def aforget(self, session_id: str) -> None:
        self.forget(session_id)

    async def aclose(self) -> None:
        pass

    def __getstate__(self) -> dict[str, Any]:
        return {"max": self._max}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["max"])  # type: ignore[misc]


# The Redis record is a hash under ``prefix + session_id``:
#   c  created_at, milliseconds since the epoch (Redis server clock)
#   u  last_used_at, milliseconds since the epoch (Redis server clock)
#   s  SHA-256 hex of the last system text, '' for none
#   i  idle timeout (ms) and  m  max lifetime (ms) the record was written under (for restore)
# Times come from the Redis server (TIME), not from the callers: every replica then judges
# expiry by one clock, so skewed hosts cannot disagree on whether a session is still live,
# and the rule and the key's TTL (which Redis also applies by its own clock) always agree.
# TIME before a write is allowed in scripts since Redis 5 (effects replication; 3.2-4 need
# redis.replicate_commands(), called here when it exists).
_EXCHANGE_LUA = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local idle = tonumber(ARGV[1])
local life = tonumber(ARGV[2])
local old = redis.call('HMGET', KEYS[1], 'c', 'u', 's')
local c = tonumber(old[1])
local u = tonumber(old[2])
local created = now
local previous = false
if c and u and now - u < idle and now - c < life then
  created = c
  previous = {old[1], old[2], old[3] or ''}
end
redis.call('HSET', KEYS[1], 'c', created, 'u', now, 's', ARGV[3], 'i', idle, 'm', life)
redis.call('PEXPIRE', KEYS[1], math.max(1, math.min(idle, created + life - now)))
return previous
"""

# Put a previous record back under the timeouts the current one was written with. A key that
# is gone (forgotten, expired) stays gone; a previous record that has expired since is deleted.
_RESTORE_LUA = """
if redis.replicate_commands then redis.replicate_commands() end
local cur = redis.call('HMGET', KEYS[1], 'i', 'm')
local idle = tonumber(cur[1])
local life = tonumber(cur[2])
if not idle or not life then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local c = tonumber(ARGV[1])
local u = tonumber(ARGV[2])
local ttl = math.min(u + idle, c + life) - now
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('HSET', KEYS[1], 'c', ARGV[1], 'u', ARGV[2], 's', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
"""


def quiet_connection_options() -> dict[str, Any]:
    """redis-py connection options under which a new connection sends nothing before its first
    command (AUTH and SELECT aside).

    By default redis-py labels each connection with ``CLIENT SETINFO`` and, from version 8,
    speaks RESP3 (``HELLO 3``) and asks for ``CLIENT MAINT_NOTIFICATIONS``. Servers before Redis
    7.2 answer SETINFO with an error, and servers that are not Redis Enterprise answer
    MAINT_NOTIFICATIONS with one; redis-py swallows both, but a burst that opened a pool's 50
    connections paid about twice the CPU per call for them. Our scripts' replies are the same in
    RESP2. ``driver_info=None`` where redis-py has it (``lib_name``/``lib_version`` are
    deprecated there), else the two ``None``s.
    """
    import importlib.util

    if importlib.util.find_spec("redis.driver_info") is not None:
        return {"protocol": 2, "driver_info": None}
    return {"protocol": 2, "lib_name": None, "lib_version": None}


@dataclass(frozen=True, slots=True)
class RedisScript:
    """A Lua script and the SHA-1 Redis knows it by (``EVALSHA``; ``EVAL`` of ``source`` when
    the server has forgotten it). Shared with the proxy's Redis link."""

    source: str
    sha: str

    @classmethod
    def of(cls, source: str) -> RedisScript:
        return cls(source, hashlib.sha1(source.encode()).hexdigest())  # noqa: S324 - Redis's id


_EXCHANGE = RedisScript.of(_EXCHANGE_LUA)
_RESTORE = RedisScript.of(_RESTORE_LUA)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _record_from_reply(reply: Any) -> SessionRecord | None:
    if not reply:
        return None
    created, used, digest = reply
    return SessionRecord(
        system_hash=digest or None,
        created_at=int(created) / 1000,
        last_used_at=int(used) / 1000,
    )


def _restore_args(previous: SessionRecord) -> list[str]:
    return [
        str(round(previous.created_at * 1000)),
        str(round(previous.last_used_at * 1000)),
        previous.system_hash or "",
    ]


def redact_url(url: str) -> str:
    """``url`` with any password (in the user-info part or a ``password=`` query parameter)
    replaced by ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, host = netloc.rpartition("@")
            user, has_password, _ = userinfo.partition(":")
            netloc = f"{user}:***@{host}" if has_password else netloc
        query = parts.query
        if "password" in query.lower():
            query = urlencode(
                [
                    (key, "***" if key.lower() == "password" else value)
                    for key, value in parse_qsl(query, keep_blank_values=True)
                ]
            )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return f"{url.partition(':')[0]}://***"


def _secrets_of(url: str, options: dict[str, Any]) -> list[str]:
    found = []
    try:
        parts = urlsplit(url)
        if parts.password:
            found.append(parts.password)
        found += [v for k, v in parse_qsl(parts.query) if k.lower() == "password" and v]
    except ValueError:
        pass
    if isinstance(options.get("password"), str) and options["password"]:
        found.append(options["password"])
    # Longest first, so a password containing another is replaced whole.
    return sorted(set(found), key=len, reverse=True)


class RedisSessionStore:
    """Records in Redis, shared by every process and replica that uses the same URL and prefix.

    ``url``: ``redis://[[user]:password@]host[:port][/db]`` or ``rediss://...`` (TLS); further
    keyword arguments go to redis-py's ``ConnectionPool.from_url`` (``ssl_ca_certs=``,
    ``ssl_cert_reqs=``, ``password=``, ``max_connections=``, ...). Each exchange is one round
    trip (``EVALSHA`` of a Lua script; ``EVAL`` once after the server forgets the script); each
    key carries a TTL equal to the time until its record expires, so Redis never grows without
    bound. Records are keyed by session id alone: stores (or prefixes) shared by clients of
    different agent runtimes must keep their session ids apart.

    ``timeout`` (seconds) bounds the connect and each read, so a hung Redis costs at most about
    that per call; redis-py's own retries are off. While Redis fails (down, slow, refusing),
    calls are answered by an in-process :class:`MemorySessionStore` that every call also writes
    (write-through), one WARNING is logged per outage, Redis is left alone for ``backoff``
    seconds, then one call tries it again; recovery is logged at INFO. Sync methods use
    ``redis.Redis``, async ones a ``redis.asyncio.Redis`` per event loop (closed with its loop),
    each over a blocking pool of ``max_connections`` (default 50) connections: a burst of calls
    waits up to ``timeout`` for a free one.

    Pickling keeps the URL (password included: it is part of the configuration) and the
    settings; the copy opens its own connections. ``repr``, logs and errors show the URL with
    its password replaced by ``***``.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "agentcore:session:",
        timeout: float = 0.25,
        backoff: float = 5.0,
        max_sessions: int = 10_000,
        **redis_options: Any,
    ) -> None:
        if not isinstance(url, str) or urlsplit(url).scheme.lower() not in ("redis", "rediss"):
            shown = redact_url(url) if isinstance(url, str) else type(url).__name__
            raise InvalidRequestError(
                f"a Redis session store needs a redis:// or rediss:// URL, got {shown!r}"
            )
        if not isinstance(prefix, str):
            raise InvalidRequestError("prefix must be a string")
        for name, value in (("timeout", timeout), ("backoff", backoff)):
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise InvalidRequestError(f"{name} must be a non-negative number of seconds")
        if timeout == 0:
            raise InvalidRequestError("timeout must be more than 0 seconds")
        try:
            import redis
            import redis.asyncio
            import redis.asyncio.retry
            import redis.backoff
            import redis.retry
        except ImportError as exc:
            raise ImportError(
                "RedisSessionStore needs redis-py: pip install 'agentcore-integrations[redis]'"
            ) from exc
        self._url = url
        self._prefix = prefix
        self._timeout = float(timeout)
        self._backoff = float(backoff)
        self._max_sessions = max_sessions
        self._options = dict(redis_options)
        self.safe_url = redact_url(url)
        """The URL with its password replaced by ``***``: what logs and errors show."""
        self._secrets = _secrets_of(url, self._options)
        self._fallback = MemorySessionStore(max_sessions)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._no_script: type[BaseException] = redis.exceptions.NoScriptError
        self._state_lock = threading.Lock()
        self._down_since: float | None = None  # monotonic, while an outage lasts
        self._retry_at = 0.0
        self._recovered_at = -math.inf
        self._async_clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[redis.asyncio.Redis, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()
        # A blocking pool: a burst of calls waits (up to ``timeout``) for one of
        # ``max_connections`` connections rather than failing or opening hundreds of sockets.
        base = {
            "socket_timeout": self._timeout,
            "socket_connect_timeout": self._timeout,
            "decode_responses": True,
            "max_connections": 50,
            "timeout": self._timeout,
            **quiet_connection_options(),
        }
        try:
            self._sync_client = _client(
                redis.Redis,
                redis.BlockingConnectionPool.from_url(
                    url,
                    **{
                        **base,
                        "retry": redis.retry.Retry(redis.backoff.NoBackoff(), 0),
                        **self._options,
                    },
                ),
            )
            # A misspelt option would otherwise surface as a TypeError on the first call.
            pool = self._sync_client.connection_pool
            pool.connection_class(**pool.connection_kwargs)
            self._async_kwargs = {
                **base,
                "retry": redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 0),
                **self._options,
            }
        except (ValueError, TypeError) as exc:
            raise InvalidRequestError(
                f"bad Redis session store URL or option for {self.safe_url}: {self._scrub(exc)}"
            ) from None

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def timeout(self) -> float:
        return self._timeout

    @property
    def fallback(self) -> MemorySessionStore:
        """The in-process store that answers while Redis is unavailable."""
        return self._fallback

    @property
    def redis_available(self) -> bool:
        """False during an outage (from the first failure until a call to Redis succeeds)."""
        return self._down_since is None

    def key(self, session_id: str) -> str:
        return self._prefix + session_id

    def __repr__(self) -> str:
        return (
            f"RedisSessionStore({self.safe_url!r}, prefix={self._prefix!r}, "
            f"timeout={self._timeout:g})"
        )

    def __getstate__(self) -> dict[str, Any]:
        return {
            "url": self._url,
            "prefix": self._prefix,
            "timeout": self._timeout,
            "backoff": self._backoff,
            "max_sessions": self._max_sessions,
            "options": self._options,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["url"],
            prefix=state["prefix"],
            timeout=state["timeout"],
            backoff=state["backoff"],
            max_sessions=state["max_sessions"],
            **state["options"],
        )

    # -- outage bookkeeping -------------------------------------------------------------------

    def _take_turn(self) -> bool:
        """Whether this call should talk to Redis: always, except during an outage's backoff;
        after it, exactly one call probes while the others keep using the fallback."""
        if self._down_since is None:
            return True
        with self._state_lock:
            if self._down_since is None:
                return True
            now = time.monotonic()
            if now < self._retry_at:
                return False
            self._retry_at = now + self._backoff
            return True

    def _failed(self, exc: BaseException, started: float) -> None:
        with self._state_lock:
            if started < self._recovered_at and self._down_since is None:
                return  # a call that began before the last recovery: not a new outage
            now = time.monotonic()
            first = self._down_since is None
            if first:
                self._down_since = now
            self._retry_at = now + self._backoff
        if first:
            logger.warning(
                "session store %s unavailable (%s); using this process's session memory, "
                "trying Redis again in %gs",
                self.safe_url,
                self._scrub(exc),
                self._backoff,
            )
        else:
            logger.debug("session store %s still unavailable: %s", self.safe_url, self._scrub(exc))

    def _succeeded(self) -> None:
        if self._down_since is None:
            return
        with self._state_lock:
            if self._down_since is None:
                return
            now = time.monotonic()
            down_for = now - self._down_since
            self._down_since = None
            self._recovered_at = now
        logger.info("session store %s available again after %.1fs", self.safe_url, down_for)

    def _scrub(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- sync ---------------------------------------------------------------------------------

    def _run(self, script: RedisScript, key: str, args: list[Any]) -> Any:
        client = self._sync_client
        try:
            return client.evalsha(script.sha, 1, key, *args)
        except self._no_script:  # the server restarted or flushed its scripts
            return client.eval(script.source, 1, key, *args)

    def exchange(
        self,
        session_id: str,
        system_hash: str | None,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_lifetime: float = DEFAULT_MAX_LIFETIME,
    ) -> SessionRecord | None:
        fallback = self._fallback.exchange(
            session_id, system_hash, idle_timeout=idle_timeout, max_lifetime=max_lifetime
        )
        if not self._take_turn():
            return fallback
        started = time.monotonic()
        try:
            args = [_ms(idle_timeout), _ms(max_lifetime), system_hash or ""]
            reply = self._run(_EXCHANGE, self.key(session_id), args)
        except self._errors as exc:
            self._failed(exc, started)
            return fallback
        self._succeeded()
        return _record_from_reply(reply)

    def restore(self, session_id: str, previous: SessionRecord | None) -> None:
        self._fallback.restore(session_id, previous)
        if not self._take_turn():
            return
        started = time.monotonic()
        try:
            if previous is None:
                self._sync_client.delete(self.key(session_id))
            else:
                self._run(_RESTORE, self.key(session_id), _restore_args(previous))
        except self._errors as exc:
            self._failed(exc, started)
            return
        self._succeeded()

    def forget(self, session_id: str) -> None:
        self._fallback.forget(session_id)
        if not self._take_turn():
            return
        started = time.monotonic()
        try:
            self._sync_client.delete(self.key(session_id))
        except self._errors as exc:
            self._failed(exc, started)
            return
        self._succeeded()

    def close(self) -> None:
        """Close the sync connections (async ones close with their event loop, or aclose())."""
        self._sync_client.close()

    # -- async --------------------------------------------------------------------------------

    async def _async_client(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        entry = self._async_clients.get(loop)
        if entry is None:
            # Only this loop's thread adds this loop's entry; the lock guards the dict against
            # other threads adding theirs (and weakref callbacks) at the same time.
            import redis.asyncio

            pool = redis.asyncio.BlockingConnectionPool.from_url(self._url, **self._async_kwargs)
            client = _client(redis.asyncio.Redis, pool)
            guard = _close_with_loop(client)
            await guard.__anext__()
            entry = (client, guard)
            with self._state_lock:
                self._async_clients[loop] = entry
        return entry[0]

    async def _arun(self, script: RedisScript, key: str, args: list[Any]) -> Any:
        client = await self._async_client()
        try:
            return await client.evalsha(script.sha, 1, key, *args)
        except self._no_script:
            return await client.eval(script.source, 1, key, *args)

    async def aexchange(
        self,
        session_id: str,
        system_hash: str | None,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_lifetime: float = DEFAULT_MAX_LIFETIME,
    ) -> SessionRecord | None:
        fallback = self._fallback.exchange(
            session_id, system_hash, idle_timeout=idle_timeout, max_lifetime=max_lifetime
        )
        if not self._take_turn():
            return fallback
        started = time.monotonic()
        try:
            args = [_ms(idle_timeout), _ms(max_lifetime), system_hash or ""]
            reply = await self._arun(_EXCHANGE, self.key(session_id), args)
        except self._errors as exc:
            self._failed(exc, started)
            return fallback
        self._succeeded()
        return _record_from_reply(reply)

    async def arestore(self, session_id: str, previous: SessionRecord | None) -> None:
        self._fallback.restore(session_id, previous)
        if not self._take_turn():
            return
        started = time.monotonic()
        try:
            if previous is None:
                await (await self._async_client()).delete(self.key(session_id))
            else:
                await self._arun(_RESTORE, self.key(session_id), _restore_args(previous))
        except self._errors as exc:
            self._failed(exc, started)
            return
        self._succeeded()

    async def aforget(self, session_id: str) -> None:
        self._fallback.forget(session_id)
        if not self._take_turn():
            return
        started = time.monotonic()
        try:
            await (await self._async_client()).delete(self.key(session_id))
        except self._errors as exc:
            self._failed(exc, started)
            return
        self._succeeded()

    async def aclose(self) -> None:
        """Close this event loop's connections (call it from that loop) and the sync ones."""
        with self._state_lock:
            entry = self._async_clients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[1].aclose()
        self._sync_client.close()


_C = TypeVar("_C")


def _client(cls: Callable[..., _C], pool: Any) -> _C:
    """A client that owns its pool (closing it closes the pool), as ``from_url`` makes."""
    client = cls(connection_pool=pool)
    client.auto_close_connection_pool = True  # type: ignore[attr-defined]
    return client


async def _close_with_loop(client: redis.asyncio.Redis) -> AsyncGenerator[None, None]:
    """Closes ``client`` when its event loop shuts down (``shutdown_asyncgens()``, which
    ``asyncio.run`` and pytest-asyncio call), or when :meth:`RedisSessionStore.aclose` ends it:
    a redis.asyncio connection belongs to the loop that opened it."""
    try:
        yield
    finally:
        await client.aclose()


def session_store_from(value: str | SessionStore | None = None) -> SessionStore:
    """A session store from configuration.

    None: the ``AGENTCORE_SESSION_STORE`` environment variable (unset or empty: a new
    :class:`MemorySessionStore`); ``"memory"``: a new :class:`MemorySessionStore`; a
    ``redis://`` or ``rediss://`` URL: a :class:`RedisSessionStore` (its key prefix from
    ``AGENTCORE_SESSION_STORE_PREFIX`` when set); a store object: itself.
    """
    origin = "session store"
    if value is None:
        value = os.environ.get(ENV_VAR, "")
        origin = ENV_VAR
    if isinstance(value, str):
        text = value.strip()
        if not text or text.lower() == "memory":
            return MemorySessionStore()
        try:
            scheme = urlsplit(text).scheme.lower()
        except ValueError:
            scheme = ""
        if scheme in ("redis", "rediss"):
            prefix = os.environ.get(PREFIX_ENV_VAR, "").strip()
            return RedisSessionStore(text, prefix=prefix) if prefix else RedisSessionStore(text)
        raise InvalidRequestError(
            f"{origin} must be 'memory' or a redis:// or rediss:// URL, got {redact_url(text)!r}"
        )
    if isinstance(value, SessionStore):
        return value
    raise InvalidRequestError(
        f"{origin} must be 'memory', a redis:// or rediss:// URL, or an object with the "
        f"SessionStore methods (exchange, aexchange, restore, ...), got a {type(value).__name__}"
    )
