"""An OpenAI-compatible proxy over AgentCore runtimes that runs the seed's config.yaml unchanged.

Needs the ``proxy`` extra. ``agentcore-proxy --config config.yaml`` (or ``python -m
agentcore_bridge.proxy``) serves ``/v1/chat/completions``, ``/v1/models``, ``/health`` and
``/openapi.json`` on 127.0.0.1:4000.
"""

from agentcore_bridge.proxy.app import SESSION_HEADER, create_app
from agentcore_bridge.proxy.config import ConfigError, ProxyConfig, build_config, load_config

__all__ = [
    "SESSION_HEADER",
    "ConfigError",
    "ProxyConfig",
    "build_config",
    "create_app",
    "load_config",
]
