"""LangChain chat model for Amazon Bedrock AgentCore runtimes: ``ChatAgentCore``."""

from langchain_agentcore.chat_models import ChatAgentCore
from langchain_agentcore.tools import load_agentcore_tools

__all__ = ["ChatAgentCore", "load_agentcore_tools"]
