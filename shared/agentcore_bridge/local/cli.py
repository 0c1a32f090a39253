"""``agentcore-local``: serve agents on a local AgentCore data plane and say how to call them.

agentcore-local --agent path/to/agent.py:app [--agent other=pkg.module:app] [--port 8765]
agentcore-local --url dev=http://127.0.0.1:8080        # an agent already running
agentcore-local --agent agent.py:app --oauth-token my-token
agentcore-local --agent agent.py:app --protocol a2a --agent a2a_agent.py:app \\
    --protocol mcp --agent mcp_server.py:app            # --protocol applies to what follows it
agentcore-local --gateway tools=mcp_server.py:app      # an MCP server as an AgentCore Gateway
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentcore_bridge.local.protocols import AgentProtocol
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


class _WithProtocol(argparse.Action):
    """Appends ``(value, protocol)``: the protocol given by the last ``--protocol`` before it."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        items = list(getattr(namespace, self.dest) or [])
        items.append((values, AgentProtocol(namespace.protocol)))
        setattr(namespace, self.dest, items)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentcore-local",
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--agent", action=_WithProtocol, default=[], metavar="[NAME=]PATH.py:APP",
        help="an agent module (file path or dotted module) and its app (a BedrockAgentCoreApp, "
        "an A2A or an MCP server app, as --protocol says)",
    )  # fmt: skip
    parser.add_argument(
        "--url", action=_WithProtocol, default=[], metavar="NAME=URL",
        help="forward a runtime to an agent already serving at URL (its base URL)",
    )  # fmt: skip
    parser.add_argument(
        "--protocol", choices=[p.value for p in AgentProtocol], default=AgentProtocol.HTTP.value,
        help="the protocol of the --agent and --url options that follow (default http): http "
        "(POST /invocations), a2a (JSON-RPC at /, card at /.well-known/agent-card.json) or mcp "
        "(stateless streamable HTTP at /mcp); may be given again before other agents",
    )  # fmt: skip
    parser.add_argument(
        "--gateway", action="append", default=[], metavar="[NAME=]PATH.py:APP",
        help="serve an MCP server app (streamable HTTP at /mcp) as an AgentCore Gateway, "
        "SigV4-signed (or Bearer with --oauth-token)",
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
    if not args.agent and not args.url and not args.gateway:
        build_parser().error("give at least one --agent, --url or --gateway")
    runtime = LocalRuntime(
        port=args.port, region=args.region, account_id=args.account_id, rate_limit=args.rate_limit
    )
    tokens = tuple(args.oauth_token) if args.oauth_token else None
    arns: list[tuple[str, str, AgentProtocol]] = []
    for spec, protocol in args.agent:
        name, target = _named(spec)
        agent = load_app(target) if args.in_process else target
        arns.append((name, runtime.add_agent(
            name, agent, bearer_tokens=tokens, idle_timeout=args.idle_timeout, protocol=protocol
        ), protocol))  # fmt: skip
    for spec, protocol in args.url:
        name, _, url = spec.partition("=")
        if not url:
            build_parser().error(f"--url takes NAME=URL, got {spec!r}")
        arns.append((name, runtime.add_agent(
            name, url=url, bearer_tokens=tokens, protocol=protocol
        ), protocol))  # fmt: skip

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with runtime:
        gateways = [
            (name, runtime.add_gateway(
                name, load_app(target) if args.in_process else target,
                auth="jwt" if tokens else "iam", bearer_tokens=tokens or (),
            ))
            for name, target in map(_named, args.gateway)
        ]  # fmt: skip
        _print_summary(runtime, arns, gateways, tokens)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def _print_summary(
    runtime: LocalRuntime,
    arns: list[tuple[str, str, AgentProtocol]],
    gateways: list[tuple[str, str]],
    tokens: tuple[str, ...] | None,
) -> None:
    out = sys.stdout
    out.write(f"Local AgentCore runtime on {runtime.endpoint_url}\n\n")
    if arns:
        out.write("Runtimes:\n")
        for name, arn, protocol in arns:
            out.write(f"  {name:<16} {arn} ({protocol})\n")
            if protocol is not AgentProtocol.HTTP:
                out.write(f"  {'':<16} {protocol.upper()} clients: {runtime.invocation_url(arn)}\n")
    if gateways:
        out.write("Gateways (MCP):\n")
        for name, url in gateways:
            out.write(f"  {name:<16} {url}\n")
    out.write("\nPoint boto3 and agentcore-integrations at it:\n")
    for key, value in runtime.environment().items():
        out.write(f"  export {key}={shlex.quote(value)}\n")
    if tokens:
        out.write("  (OAuth runtimes: send Authorization: Bearer <token>; SigV4 is refused)\n")
    if arns:
        out.write(f"  export AGENTCORE_RUNTIME_ARN={shlex.quote(arns[0][1])}\n")
    out.write("\nCtrl-C stops.\n")
    out.flush()


if __name__ == "__main__":
    raise SystemExit(main())
