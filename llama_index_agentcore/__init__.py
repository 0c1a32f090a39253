"""LlamaIndex LLM for Amazon Bedrock AgentCore runtimes: ``AgentCore``."""

from llama_index_agentcore.base import DEFAULT_CONTEXT_WINDOW, AgentCore, to_openai_messages
from llama_index_agentcore.tools import AgentCoreToolSpec

__all__ = ["DEFAULT_CONTEXT_WINDOW", "AgentCore", "AgentCoreToolSpec", "to_openai_messages"]
