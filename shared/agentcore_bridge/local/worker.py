"""One session's agent process: import the agent app and serve it with uvicorn on a free port.

Started by the local runtime's ProcessPerSessionHost as
``python -m agentcore_bridge.local.worker path/to/agent.py:app``; prints ``PORT <n>`` once it
listens, so the runtime knows where to forward the session's calls.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn


def load_app(spec: str) -> Any:
    """``path/to/agent.py:app`` or ``package.module:app`` -> the app object (default name app)."""
    target, _, attribute = spec.rpartition(":") if ":" in spec else (spec, "", "app")
    attribute = attribute or "app"
    if target.endswith(".py") or "/" in target:
        path = Path(target).resolve()
        if not path.is_file():
            raise SystemExit(f"agent file not found: {path}")
        sys.path.insert(0, str(path.parent))
        module_spec = importlib.util.spec_from_file_location(path.stem, path)
        if module_spec is None or module_spec.loader is None:
            raise SystemExit(f"cannot import {path}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[path.stem] = module
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise SystemExit(f"{target} has no attribute {attribute!r}") from None


def main() -> None:
    app = load_app(sys.argv[1])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="auto"))

    async def serve() -> None:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if serving.done():
                await serving
                return
            await asyncio.sleep(0.01)
        sys.stdout.write(f"PORT {port}\n")
        sys.stdout.flush()
        # The runtime stops reading our stdout now: whatever the agent prints goes to stderr.
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        await serving

    asyncio.run(serve())


if __name__ == "__main__":
    main()
