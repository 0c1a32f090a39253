"""Per-deployment ``rpm`` and ``tpm`` as LiteLLM defines them: requests and tokens per minute.

A deployment with ``rpm`` admits that many requests per clock minute; one with ``tpm`` admits
requests while the tokens its agents reported this minute (``usage.total_tokens`` of finished
answers) are below the limit; the counts start again at each minute. :class:`MemoryRateLimiter`
counts in this process (each replica, and each worker, then enforces the limits on its own);
:class:`RedisRateLimiter` counts in the Redis the replicas share, in one round trip per
admission (a Lua script that walks the candidates in order and admits the first one under its
limits), with keys that expire two minutes after their window. While Redis is unavailable it
counts in this process.

Windows follow this host's clock (the keys name the minute), so replicas should keep their
clocks in step (NTP does).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from agentcore_bridge.proxy.redis_link import RedisLink, RedisUnavailable
from agentcore_bridge.session_store import RedisScript

if TYPE_CHECKING:
    from agentcore_bridge.proxy.config import Deployment

WINDOW_SECONDS = 60
_KEY_TTL_MS = 2 * WINDOW_SECONDS * 1000


def retry_after(now: float) -> int:
    """Whole seconds until the next window opens (at least 1): the 429's ``Retry-After``."""
    return max(1, math.ceil(WINDOW_SECONDS - now % WINDOW_SECONDS))


class RateLimiter(Protocol):
    clock: Callable[[], float]

    async def admit_first(self, candidates: Sequence[Deployment]) -> Deployment | None:
        """The first candidate under its limits, counted as one request; None when all are at
        theirs. Candidates without limits are admitted without counting."""
        ...

    async def add_tokens(self, deployment: Deployment, tokens: int) -> None:
        """Count the tokens an answer used against ``deployment``'s tpm."""
        ...


class MemoryRateLimiter:
    """Counts in this process: one ``[window, requests, tokens]`` per deployment with limits
    (bounded by the configuration)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._counts: dict[str, list[int]] = {}

    def _current(self, deployment: Deployment) -> list[int]:
        window = int(self.clock() // WINDOW_SECONDS)
        counts = self._counts.get(deployment.id)
        if counts is None or counts[0] != window:
            counts = self._counts[deployment.id] = [window, 0, 0]
        return counts

    def admit(self, deployment: Deployment) -> bool:
        rpm, tpm = deployment.rpm, deployment.tpm
        if rpm is None and tpm is None:
            return True
        counts = self._current(deployment)
        if (rpm is not None and counts[1] >= rpm) or (tpm is not None and counts[2] >= tpm):
            return False
        counts[1] += 1
        return True

    async def admit_first(self, candidates: Sequence[Deployment]) -> Deployment | None:
        for deployment in candidates:
            if self.admit(deployment):
                return deployment
        return None

    def count_tokens(self, deployment: Deployment, tokens: int) -> None:
        if deployment.tpm is not None:
            self._current(deployment)[2] += tokens

    async def add_tokens(self, deployment: Deployment, tokens: int) -> None:
        self.count_tokens(deployment, tokens)


# KEYS: the request and token counters of each candidate, in order (two per candidate).
# ARGV[1]: the TTL of a window's keys (ms); then each candidate's rpm and tpm (0: no limit).
_ADMIT = RedisScript.of("""
for i = 1, #KEYS / 2 do
  local rpm = tonumber(ARGV[2 * i])
  local tpm = tonumber(ARGV[2 * i + 1])
  local free = true
  if tpm > 0 and tonumber(redis.call('GET', KEYS[2 * i]) or '0') >= tpm then
    free = false
  end
  if free and rpm > 0 and tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0') >= rpm then
    free = false
  end
  if free then
    if rpm > 0 then
      redis.call('INCR', KEYS[2 * i - 1])
      redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[1])
    end
    return i
  end
end
return 0
""")

_ADD_TOKENS = RedisScript.of("""
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
""")


class RedisRateLimiter:
    """Counts shared by every replica using the same Redis (and prefix)."""

    def __init__(
        self,
        link: RedisLink,
        *,
        prefix: str = "agentcore:proxy:rate:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self._link = link
        self._prefix = prefix
        self.fallback = MemoryRateLimiter(clock)

    def keys(self, deployment: Deployment, window: int) -> tuple[str, str]:
        base = f"{self._prefix}{deployment.id}:{window}"
        return f"{base}:r", f"{base}:t"

    async def admit_first(self, candidates: Sequence[Deployment]) -> Deployment | None:
        # Candidates without limits need no count: ask Redis only about the limited ones
        # before the first unlimited one, which is admitted if they are all full.
        limited: list[Deployment] = []
        for deployment in candidates:
            if deployment.rpm is None and deployment.tpm is None:
                break
            limited.append(deployment)
        if limited and (chosen := await self._admit(limited)) is not None:
            return chosen
        return candidates[len(limited)] if len(limited) < len(candidates) else None

    async def _admit(self, limited: list[Deployment]) -> Deployment | None:
        window = int(self.clock() // WINDOW_SECONDS)
        keys: list[str] = []
        args: list[int] = [_KEY_TTL_MS]
        for deployment in limited:
            keys.extend(self.keys(deployment, window))
            args += [deployment.rpm or 0, deployment.tpm or 0]
        try:
            index = int(await self._link.run(_ADMIT, keys, args))
        except RedisUnavailable:
            return await self.fallback.admit_first(limited)
        return limited[index - 1] if index else None

    async def add_tokens(self, deployment: Deployment, tokens: int) -> None:
        if deployment.tpm is None or tokens <= 0:
            return
        self.fallback.count_tokens(deployment, tokens)
        key = self.keys(deployment, int(self.clock() // WINDOW_SECONDS))[1]
        with contextlib.suppress(RedisUnavailable):  # counted in this process meanwhile
            await self._link.run(_ADD_TOKENS, [key], [tokens, _KEY_TTL_MS])
