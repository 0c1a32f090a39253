"""Which deployment each session is bound to, kept in the Redis the replicas share.

Without it a session's deployment is its rendezvous choice (:func:`rendezvous`), the same on
every replica and after restarts while the configuration stays the same. A binding keeps a
session where it is when deployments are added: the first call records the choice, later calls
read it and refresh its TTL (the longest idle timeout of the model's deployments: past it,
AgentCore has ended the session anyway). A binding to a deployment that is no longer
configured is replaced by the current choice. One round trip per session call; while Redis is
unavailable the rendezvous choice is used.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from agentcore_bridge.proxy.redis_link import RedisLink, RedisUnavailable
from agentcore_bridge.session_store import RedisScript

if TYPE_CHECKING:
    from agentcore_bridge.proxy.config import Deployment, ProxyModel

_UNIT = float(2**64)


def rendezvous(deployments: Sequence[Deployment], session_id: str) -> Deployment:
    """The deployment with the highest weighted rendezvous score for ``session_id``: each
    deployment scores ``-weight / ln(u)`` with ``u`` a 64-bit hash of the session and the
    deployment's id in (0, 1). Every process computes the same answer; adding or removing a
    deployment moves only the sessions that scored highest on it."""
    best, best_score = deployments[0], -math.inf
    data = session_id.encode()
    for deployment in deployments:
        digest = hashlib.blake2b(data, digest_size=8, key=deployment.id_bytes).digest()
        unit = (int.from_bytes(digest, "big") + 0.5) / _UNIT
        score = -deployment.route_weight / math.log(unit)
        if score > best_score:
            best, best_score = deployment, score
    return best


_BIND = RedisScript.of("""
local current = redis.call('GET', KEYS[1])
if current then
  for i = 2, #ARGV do
    if ARGV[i] == current then
      redis.call('PEXPIRE', KEYS[1], ARGV[1])
      return current
    end
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
return ARGV[2]
""")


class SessionBindings:
    """Session -> deployment bindings in Redis, per model."""

    def __init__(self, link: RedisLink, *, prefix: str = "agentcore:proxy:binding:") -> None:
        self._link = link
        self._prefix = prefix

    def key(self, model: ProxyModel, session_id: str) -> str:
        return f"{self._prefix}{model.name}:{session_id}"

    async def bind(self, model: ProxyModel, session_id: str, proposed: Deployment) -> Deployment:
        """The deployment ``session_id`` is bound to: its binding if it names a configured
        deployment, else ``proposed`` (now recorded)."""
        ttl_ms = max(1, round(model.binding_ttl * 1000))
        ids = [proposed.id, *(d.id for d in model.deployments if d is not proposed)]
        try:
            bound = await self._link.run(_BIND, [self.key(model, session_id)], [ttl_ms, *ids])
        except RedisUnavailable:
            return proposed
        return model.deployment(bound) or proposed
