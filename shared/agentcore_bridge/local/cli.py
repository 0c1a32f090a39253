"""``agentcore-local``: serve agents on a local AgentCore data plane and say how to call them.

agentcore-local --agent path/to/agent.py:app [--agent other=pkg.module:app] [--port 8765]
agentcore-local --url dev=http://127.0.0.1:8080        # an agent already running
agentcore-local --agent agent.py:app --oauth-token my-token
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import threading
from pathlib import Path

from agentcore_bridge.local.server import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, LocalRuntime
from agentcore_bridge.local.worker import load_app


def _named(spec: str) -> tuple[str, str]:
    """``name=target`` or ``target`` (the name is then the file or module name)."""
    if "=" in spec.split(":", 1)[0]:
        name, _, target = spec.partition("=")
        return name, target
    module = spec.rsplit(":", 1)[0] if ":" in spec else spec
    name = Path(module).stem if module.endswith(".py") else module.rsplit(".", 1)[-1]
    return name.replace("_", "-") or "agent", spec


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentcore-local", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--agent", action="append", default=[], metavar="[NAME=]PATH.py:APP",
        help="an agent module (file path or dotted module) and its BedrockAgentCoreApp",
    )  # fmt: skip
    parser.add_argument(
        "--url", action="append", default=[], metavar="NAME=URL",
        help="forward a runtime to an agent already serving /invocations at URL",
    )  # fmt: skip
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID)
    parser.add_argument(
        "--in-process", action="store_true",
        help="host agents in this process (fast) instead of one process per session",
    )  # fmt: skip
    parser.add_argument(
        "--idle-timeout", type=float, default=900.0,
        help="seconds before an idle session's process is stopped (default 900, as AgentCore)",
    )  # fmt: skip
    parser.add_argument(
        "--oauth-token", action="append", default=None, metavar="TOKEN",
        help="make the runtimes OAuth: require Authorization: Bearer TOKEN instead of SigV4",
    )  # fmt: skip
    parser.add_argument("--rate-limit", type=float, default=None, help="invocations/s per endpoint")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.agent and not args.url:
        build_parser().error("give at least one --agent or --url")
    runtime = LocalRuntime(
        port=args.port, region=args.region, account_id=args.account_id, rate_limit=args.rate_limit
    )
    tokens = tuple(args.oauth_token) if args.oauth_token else None
    arns: list[tuple[str, str]] = []
    for spec in args.agent:
        name, target = _named(spec)
        agent = load_app(target) if args.in_process else target
        arns.append((name, runtime.add_agent(
            name, agent, bearer_tokens=tokens, idle_timeout=args.idle_timeout
        )))  # fmt: skip
    for spec in args.url:
        name, _, url = spec.partition("=")
        if not url:
            build_parser().error(f"--url takes NAME=URL, got {spec!r}")
        arns.append((name, runtime.add_agent(name, url=url, bearer_tokens=tokens)))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with runtime:
        out = sys.stdout
        out.write(f"Local AgentCore runtime on {runtime.endpoint_url}\n\nRuntimes:\n")
        for name, arn in arns:
            out.write(f"  {name:<16} {arn}\n")
        out.write("\nPoint boto3 and agentcore-integrations at it:\n")
        for key, value in runtime.environment().items():
            out.write(f"  export {key}={shlex.quote(value)}\n")
        if tokens:
            out.write("  (OAuth runtimes: send Authorization: Bearer <token>; SigV4 is refused)\n")
        out.write(f"  export AGENTCORE_RUNTIME_ARN={shlex.quote(arns[0][1])}\n\nCtrl-C stops.\n")
        out.flush()
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
