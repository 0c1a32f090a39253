"""Runtime session ids: make new ones AgentCore accepts, and check the ones callers give."""

from __future__ import annotations

import hashlib
import re
import uuid

from agentcore_bridge.errors import InvalidSessionIdError

SESSION_ID_MIN_LENGTH = 33
SESSION_ID_MAX_LENGTH = 256
# The id travels in an HTTP header: visible ASCII only, no spaces or control characters.
_VALID_SESSION_ID = re.compile(r"[\x21-\x7e]{33,256}")
SESSION_ID_RULE = (
    "a runtime session id must be 33 to 256 visible ASCII characters "
    "(no spaces or control characters), e.g. a UUID with a prefix"
)


def new_session_id() -> str:
    """A fresh session id: 42 characters of ``[a-z0-9-]``, starting with a letter."""
    return f"agentcore-{uuid.uuid4().hex}"


def validate_session_id(session_id: object) -> str:
    """Return ``session_id`` unchanged if AgentCore accepts it, else raise InvalidSessionIdError."""
    if not isinstance(session_id, str):
        raise InvalidSessionIdError(
            f"runtime session id must be a string, got {type(session_id).__name__}; "
            + SESSION_ID_RULE
        )
    if _VALID_SESSION_ID.fullmatch(session_id) is None:
        if not SESSION_ID_MIN_LENGTH <= len(session_id) <= SESSION_ID_MAX_LENGTH:
            problem = f"it has {len(session_id)} characters"
        else:
            problem = "it contains a character outside visible ASCII"
        raise InvalidSessionIdError(f"invalid runtime session id: {problem}; {SESSION_ID_RULE}")
    return session_id


def session_id_for(key: str) -> str:
    """The AgentCore session id for a framework's conversation key (a LangGraph ``thread_id``, a
    ``RunnableWithMessageHistory`` session id, a chat engine's id).

    A key that is already a valid session id is used as it is; any other key (``"user-42"`` is
    too short for AgentCore) maps to ``session-<sha256 of the key>``: the same key always gives
    the same session, and different keys never share one.
    """
    if _VALID_SESSION_ID.fullmatch(key):
        return key
    return "session-" + hashlib.sha256(key.encode("utf-8")).hexdigest()
