"""``agentcore-proxy --config config.yaml``: serve the OpenAI-compatible proxy with uvicorn.

``--workers N`` runs N processes on one port (each loads the config); ``--graceful-timeout``
is how long open streams may run on after SIGTERM or SIGINT (new connections are refused at
once). A master key shorter than 16 characters, or a published example such as ``sk-1234``, is
refused off loopback and warned about on it.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
from types import FrameType

import uvicorn

from agentcore_bridge.proxy.app import create_app
from agentcore_bridge.proxy.config import (
    CONFIG_ENV,
    MASTER_KEY_ENV,
    ConfigError,
    load_config,
    master_key_weakness,
)
from agentcore_bridge.proxy.serving import NoDelayHttpProtocol

DEFAULT_GRACE_SECONDS = 30.0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _after_graceful_shutdown(number: int, frame: FrameType | None) -> None:
    """The re-raised stop signal, after uvicorn let open requests finish."""


def _fail(message: str) -> int:
    print(f"agentcore-proxy: {message}", file=sys.stderr)
    return 2


# uvicorn closes a connection idle for 5 s by default. A client that reuses a pooled connection
# just as the server closes it gets "server disconnected" on a POST it cannot safely retry (the
# proxy benchmark lost runs to it at 64 clients). Servers should outlast their clients' idle
# timeouts: aiohttp keeps idle connections 15 s, httpx (the openai SDK) 5 s, urllib3 forever,
# AWS load balancers 60 s by default; 75 s is also nginx's default.
DEFAULT_KEEP_ALIVE_SECONDS = 75.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentcore-proxy", description=__doc__)
    parser.add_argument("--config", required=True, help="the seed's config.yaml (model_list)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4000)
    parser.add_argument(
        "--allow-open", action="store_true",
        help="run without a master key (only on a loopback address)",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, default=1,
        help="worker processes sharing the port (default 1); give them a shared "
        "general_settings.session_store so they keep one session history",
    )  # fmt: skip
    parser.add_argument(
        "--graceful-timeout", type=float, default=DEFAULT_GRACE_SECONDS, metavar="SECONDS",
        help="on SIGTERM/SIGINT, how long open requests and streams may finish (default 30)",
    )  # fmt: skip
    parser.add_argument(
        "--keep-alive-timeout", type=float, default=DEFAULT_KEEP_ALIVE_SECONDS, metavar="SECONDS",
        help="how long an idle client connection is kept open (default 75: longer than the "
        "idle timeouts of client pools and load balancers, so the proxy is never the side "
        "that closes a connection a client is about to reuse)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    if args.workers < 1:
        return _fail("--workers must be at least 1")
    if args.graceful_timeout < 0:
        return _fail("--graceful-timeout must be 0 or more seconds")
    if not args.keep_alive_timeout > 0:
        return _fail("--keep-alive-timeout must be more than 0 seconds")
    try:
        config = load_config(args.config)
    except ConfigError as error:
        return _fail(error.message)
    loopback = _is_loopback(args.host)
    if config.master_key is None:
        if not args.allow_open:
            return _fail(
                "no master key: set general_settings.master_key in the config or "
                f"{MASTER_KEY_ENV}, or pass --allow-open to run without one on loopback"
            )
        if not loopback:
            return _fail("--allow-open is only allowed on a loopback host")
    elif (weakness := master_key_weakness(config.master_key)) is not None:
        if not loopback:
            return _fail(
                f"the master key is too weak to listen on {args.host}: {weakness}; use a long "
                'random key (e.g. python -c \'import secrets; print("sk-" + '
                "secrets.token_urlsafe(32))')"
            )
        print(
            f"agentcore-proxy: warning: the master key is weak ({weakness}); acceptable on "
            "loopback only",
            file=sys.stderr,
        )
    if args.workers > 1 and config.shared_redis_url is None:
        print(
            f"agentcore-proxy: warning: {args.workers} workers without a shared Redis: each "
            "keeps its own session history (a conversation whose turns reach different "
            "workers is resent in full) and its own rpm/tpm counts; set "
            "general_settings.session_store to a redis:// URL",
            file=sys.stderr,
        )
    names = ", ".join(config.models)
    print(f"agentcore-proxy on http://{args.host}:{args.port} serving {names}", flush=True)
    options: dict[str, object] = {
        "host": args.host,
        "port": args.port,
        "log_level": "warning",
        "timeout_graceful_shutdown": args.graceful_timeout,
        "timeout_keep_alive": args.keep_alive_timeout,
        # X-Forwarded-* would only rewrite the client address, which nothing here reads.
        "proxy_headers": False,
        "http": NoDelayHttpProtocol,
    }
    if args.workers == 1:
        # uvicorn re-raises the signal that stopped it once it has shut down gracefully; with
        # these handlers in place that ends here, and the exit status says the shutdown was
        # clean (0) rather than a kill.
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, _after_graceful_shutdown)
        uvicorn.run(create_app(config), **options)  # type: ignore[arg-type]
        return 0
    # Each worker process imports the app factory and loads the config itself.
    os.environ[CONFIG_ENV] = os.path.abspath(args.config)
    uvicorn.run(
        "agentcore_bridge.proxy.app:app_from_environment",
        factory=True,
        workers=args.workers,
        **options,  # type: ignore[arg-type]
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
