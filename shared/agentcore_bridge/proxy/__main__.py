"""``python -m agentcore_bridge.proxy --config config.yaml``."""

from agentcore_bridge.proxy.cli import main

raise SystemExit(main())
