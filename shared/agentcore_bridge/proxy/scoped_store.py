"""One session store shared by all of the proxy's clients, with each runtime's sessions kept apart.

A session store keys its records by session id alone, but AgentCore sessions belong to a runtime
(and endpoint): the same id sent to two runtimes is two sessions. Each deployment's client
therefore gets a :class:`ScopedSessionStore`: a view of the one store that prefixes its session
ids with the runtime's identity, so a caller reusing a session id with another model, or a
session moved to another deployment, counts as new there (it is sent the whole conversation).
"""

from __future__ import annotations

from agentcore_bridge.session_store import SessionRecord, SessionStore


class ScopedSessionStore:
    """``store`` seen through ``scope``: every session id becomes ``scope + "|" + id``.

    Closing a view does nothing: the proxy closes the shared store once, when it stops."""

    def __init__(self, store: SessionStore, scope: str) -> None:
        self.store = store
        self.scope = scope
        self._prefix = scope + "|"

    def __repr__(self) -> str:
        return f"ScopedSessionStore({self.store!r}, scope={self.scope!r})"

    def exchange(
        self, session_id: str, system_hash: str | None, *, idle_timeout: float,
        max_lifetime: float,
    ) -> SessionRecord | None:  # fmt: skip
        return self.store.exchange(
            self._prefix + session_id, system_hash,
            idle_timeout=idle_timeout, max_lifetime=max_lifetime,
        )  # fmt: skip

    async def aexchange(
        self, session_id: str, system_hash: str | None, *, idle_timeout: float,
        max_lifetime: float,
    ) -> SessionRecord | None:  # fmt: skip
        return await self.store.aexchange(
            self._prefix + session_id, system_hash,
            idle_timeout=idle_timeout, max_lifetime=max_lifetime,
        )  # fmt: skip

    def restore(self, session_id: str, previous: SessionRecord | None) -> None:
        self.store.restore(self._prefix + session_id, previous)

    async def arestore(self, session_id: str, previous: SessionRecord | None) -> None:
        await self.store.arestore(self._prefix + session_id, previous)

    def forget(self, session_id: str) -> None:
        self.store.forget(self._prefix + session_id)

    async def aforget(self, session_id: str) -> None:
        await self.store.aforget(self._prefix + session_id)

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass
