"""A local AgentCore data plane for offline development and tests.

``LocalRuntime`` serves ``/runtimes/{arn}/invocations``, the A2A agent card and
``/stopruntimesession`` on 127.0.0.1 the way AgentCore does (SigV4 or OAuth, sessions,
qualifiers, each protocol's errors, 424 for an agent's own failure, streaming), hosting HTTP
agents written with the official ``bedrock_agentcore`` SDK, A2A agents and MCP servers
in-process, one process per session, or at a URL, and MCP servers as Gateways. Needs the
``local`` extra.
"""

from agentcore_bridge.local.dataplane import Fault, Invocation
from agentcore_bridge.local.protocols import AgentProtocol
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
    "AgentProtocol",
    "Fault",
    "Invocation",
    "LocalCredentials",
    "LocalRuntime",
]
