"""LlamaIndex LLM for Amazon Bedrock AgentCore runtimes (``AgentCore``): coming with its own
issue; the shared core is ``agentcore_bridge``."""

__all__: list[str] = []
