"""The local AgentCore runtime of the LangChain tests (started once per session)."""

from __future__ import annotations

from support.adapter_runtime import AdapterRuntime
from support.adapter_runtime import shared_runtime as _shared

LangChainRuntime = AdapterRuntime


def shared_runtime() -> LangChainRuntime:
    """Started once per test session (the standard suites read it from properties)."""
    return _shared("langchain")
