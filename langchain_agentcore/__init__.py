"""LangChain chat model for Amazon Bedrock AgentCore runtimes: ``ChatAgentCore``."""

from langchain_agentcore.chat_models import ChatAgentCore

__all__ = ["ChatAgentCore"]
