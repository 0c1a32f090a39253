"""LlamaIndex LLM for Amazon Bedrock AgentCore runtimes: ``AgentCore``."""

from llama_index_agentcore.base import DEFAULT_CONTEXT_WINDOW, AgentCore, to_openai_messages

__all__ = ["DEFAULT_CONTEXT_WINDOW", "AgentCore", "to_openai_messages"]
