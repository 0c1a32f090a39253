"""``agentcore-proxy --config config.yaml``: serve the OpenAI-compatible proxy with uvicorn."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys

import uvicorn

from agentcore_bridge.proxy.app import create_app
from agentcore_bridge.proxy.config import MASTER_KEY_ENV, ConfigError, load_config


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentcore-proxy", description=__doc__)
    parser.add_argument("--config", required=True, help="the seed's config.yaml (model_list)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4000)
    parser.add_argument(
        "--allow-open", action="store_true",
        help="run without a master key (only on a loopback address)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"agentcore-proxy: {error.message}", file=sys.stderr)
        return 2
    if config.master_key is None:
        if not args.allow_open:
            print(
                "agentcore-proxy: no master key: set general_settings.master_key in the config "
                f"or {MASTER_KEY_ENV}, or pass --allow-open to run without one on loopback",
                file=sys.stderr,
            )
            return 2
        if not _is_loopback(args.host):
            print(
                "agentcore-proxy: --allow-open is only allowed on a loopback host", file=sys.stderr
            )
            return 2
    names = ", ".join(config.models)
    print(f"agentcore-proxy on http://{args.host}:{args.port} serving {names}", flush=True)
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
