"""LangChain chat model for Amazon Bedrock AgentCore runtimes (``ChatAgentCore``): coming with its
own issue; the shared core is ``agentcore_bridge``."""

__all__: list[str] = []
