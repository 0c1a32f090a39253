"""Demo agents written with the official SDK, shipped for the local runtime, demos and tests.

Each module exposes ``app`` (a ``BedrockAgentCoreApp``): host one in-process with
``LocalRuntime.add_agent(name, module.app)``, or one process per session with
``add_agent(name, "agentcore_bridge.local.agents.<module>:app")``.
"""
