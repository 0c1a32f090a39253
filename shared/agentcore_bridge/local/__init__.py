"""A local AgentCore data plane for offline development and tests.

``LocalRuntime`` serves ``/runtimes/{arn}/invocations`` and ``/stopruntimesession`` on
127.0.0.1 the way AgentCore does (SigV4 or OAuth, sessions, qualifiers, AWS errors, 424 for an
agent's own failure, streaming), hosting agents written with the official ``bedrock_agentcore``
SDK in-process, one process per session, or at a URL. Needs the ``local`` extra.
"""

from agentcore_bridge.local.dataplane import Fault, Invocation
from agentcore_bridge.local.server import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    DEFAULT_SECRET_ACCESS_KEY,
    LocalRuntime,
)
from agentcore_bridge.local.sigv4 import LocalCredentials

__all__ = [
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "DEFAULT_SECRET_ACCESS_KEY",
    "Fault",
    "Invocation",
    "LocalCredentials",
    "LocalRuntime",
]
