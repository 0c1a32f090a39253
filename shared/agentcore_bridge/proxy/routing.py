"""Which deployment of a model serves a request.

* A request naming a session (``X-AgentCore-Session-Id``, or the model's configured
  ``runtimeSessionId``) goes to the session's deployment: its binding in the shared Redis when
  one is configured, else its rendezvous choice (:func:`bindings.rendezvous`), the same on every
  replica and after restarts. It never moves: at its deployment's limit it gets a 429, and a
  failure is its answer, so an AgentCore session (and the memory the agent keeps in it) is never
  silently swapped for another runtime's.
* A request without a session goes where ``routing_strategy`` says (``simple-shuffle``: a
  random order weighted as LiteLLM weighs it; ``least-busy``: fewest requests in flight in this
  process first). Deployments at their ``max_parallel_requests`` are skipped, those cooling down
  after a failure go last, and the first one under its rpm/tpm is used. A failure that cannot
  have reached an agent (``error.retryable``) moves it to the next one. The session id the proxy
  makes for it hashes to the deployment that served it, so a caller who continues with that id
  stays there.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from agentcore_bridge.decoding import Usage
from agentcore_bridge.proxy.bindings import SessionBindings, rendezvous
from agentcore_bridge.proxy.config import Deployment, ProxyConfig, ProxyModel
from agentcore_bridge.proxy.limits import RateLimiter, retry_after
from agentcore_bridge.sessions import new_session_id

_MAX_MINT_ATTEMPTS = 4096


class RateLimited(Exception):
    """Every deployment a request may use is at its limit."""

    def __init__(self, model: str, retry_after: int, why: str) -> None:
        super().__init__(f"model {model}: {why}; retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Choice:
    deployment: Deployment
    session_id: str | None
    """The session to send: the caller's, one made for this deployment, or None (the client
    makes one: the model has a single deployment)."""


class Router:
    """Chooses deployments and keeps this process's view of them (requests in flight,
    deployments cooling down after a failure)."""

    def __init__(
        self,
        config: ProxyConfig,
        limiter: RateLimiter,
        bindings: SessionBindings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.strategy = config.routing_strategy
        self.cooldown_time = config.cooldown_time
        self.limiter = limiter
        self.bindings = bindings
        self._clock = clock
        self._random = rng or random.Random()  # noqa: S311 - load spreading, not secrets
        self.in_flight: dict[str, int] = {}
        self._cooling_until: dict[str, float] = {}

    async def deployment_for(self, model: ProxyModel, session_id: str) -> Deployment:
        """The deployment ``session_id`` is bound to."""
        deployments = model.deployments
        if len(deployments) == 1:
            return deployments[0]
        proposed = rendezvous(deployments, session_id)
        if self.bindings is None:
            return proposed
        return await self.bindings.bind(model, session_id, proposed)

    async def choose(
        self, model: ProxyModel, session_id: str | None, tried: Collection[str] = ()
    ) -> Choice | None:
        """The deployment for a request, counted against its limits; None when a request
        without a session has tried every deployment. Raises RateLimited."""
        direct = model.direct
        if direct is not None:
            return None if tried else Choice(direct, session_id)
        if session_id is not None:
            deployment = await self.deployment_for(model, session_id)
            if not self._has_room(deployment):
                raise RateLimited(model.name, 1, "its session's deployment is at its "
                                  "max_parallel_requests")  # fmt: skip
            if await self.limiter.admit_first((deployment,)) is None:
                raise RateLimited(
                    model.name,
                    retry_after(self.limiter.clock()),
                    "its session's deployment is at its rate limit (rpm/tpm)",
                )
            return Choice(deployment, session_id)
        candidates = self.order(model, tried)
        if not candidates:
            if len(tried) >= len(model.deployments):
                return None
            raise RateLimited(model.name, 1, "every deployment is at its max_parallel_requests")
        chosen = await self.limiter.admit_first(candidates)
        if chosen is None:
            raise RateLimited(
                model.name,
                retry_after(self.limiter.clock()),
                "every deployment is at its rate limit (rpm/tpm)",
            )
        return Choice(chosen, self.session_for(model, chosen))

    def order(self, model: ProxyModel, tried: Collection[str] = ()) -> list[Deployment]:
        """The deployments a request without a session may try, best first."""
        deployments = model.deployments
        if len(deployments) == 1:
            only = deployments[0]
            return [only] if only.id not in tried and self._has_room(only) else []
        candidates = [d for d in deployments if d.id not in tried and self._has_room(d)]
        draw = self._random.random
        if self.strategy == "least-busy":
            busy = self.in_flight
            candidates.sort(key=lambda d: (busy.get(d.id, 0), draw()))
        else:
            # Weighted random order (Efraimidis-Spirakis): first place in proportion to weight.
            candidates.sort(key=lambda d: draw() ** (1.0 / d.route_weight), reverse=True)
        if self._cooling_until:
            now = self._clock()
            cooling = self._cooling_until
            candidates.sort(key=lambda d: cooling.get(d.id, 0.0) > now)  # stable: order kept
        return candidates

    def session_for(self, model: ProxyModel, deployment: Deployment) -> str | None:
        """A new session id whose rendezvous choice is ``deployment`` (None for a model with
        one deployment: the client makes one)."""
        deployments = model.deployments
        if len(deployments) == 1:
            return None
        session = new_session_id()
        for _ in range(_MAX_MINT_ATTEMPTS):
            if rendezvous(deployments, session) is deployment:
                break
            session = new_session_id()
        return session

    def _has_room(self, deployment: Deployment) -> bool:
        cap = deployment.max_parallel_requests
        return cap is None or self.in_flight.get(deployment.id, 0) < cap

    def started(self, deployment: Deployment) -> None:
        self.in_flight[deployment.id] = self.in_flight.get(deployment.id, 0) + 1

    def finished(self, deployment: Deployment) -> None:
        self.in_flight[deployment.id] -= 1

    def failed(self, deployment: Deployment) -> None:
        """A failure that cannot have reached the agent: requests without a session try the
        deployment last for ``cooldown_time`` seconds."""
        if self.cooldown_time > 0:
            self._cooling_until[deployment.id] = self._clock() + self.cooldown_time

    async def record_usage(self, deployment: Deployment, usage: Usage | None) -> None:
        if usage is None or deployment.tpm is None:
            return
        tokens = usage.total_tokens or usage.input_tokens + usage.output_tokens
        await self.limiter.add_tokens(deployment, tokens)
