"""MCP tools on AgentCore: an MCP runtime ARN or a Gateway URL resolved into a streamable-HTTP
connection (URL, headers, signing, timeouts) for MCP clients, and what an MCP session raises
turned into the package's errors.

``mcp_connection`` returns a langchain-mcp-adapters connection, which is also all an ``mcp``
SDK client needs (``url``, ``headers``, ``httpx_client_factory``, the timeouts)::

    from langchain_mcp_adapters.client import MultiServerMCPClient
    client = MultiServerMCPClient({"tools": mcp_connection(runtime_arn)})
    tools = await client.get_tools()

What the connection carries, per AgentCore's MCP contract:

* the URL: InvokeAgentRuntime's (``/runtimes/{url-encoded ARN}/invocations?qualifier=...``,
  ``DEFAULT`` unless a qualifier is given) on the endpoint boto3 resolves for the ARN's region
  (``AWS_ENDPOINT_URL_BEDROCK_AGENTCORE`` and the config file apply), or the Gateway's own URL;
* a runtime session id (``X-Amzn-Bedrock-AgentCore-Runtime-Session-Id``), one per connection:
  every MCP session opened through it (langchain-mcp-adapters opens one per tool call) reaches
  the same runtime session, so the same warm microVM; pass ``runtime_session_id`` to choose it;
* ``X-Amzn-Bedrock-AgentCore-Runtime-User-Id`` when ``runtime_user_id`` is given;
* ``Accept: application/json, text/event-stream`` and ``Mcp-Session-Id`` are the MCP client's
  own: it sends both (AgentCore makes up the session id for stateless servers and returns it);
* the signing (:class:`~agentcore_bridge.mcp_auth.AgentCoreAuth`): a bearer token when one is
  given (``bearer_token`` or ``AGENTCORE_BEARER_TOKEN``), else SigV4 with boto3's credential
  chain for the runtime's (or Gateway's) region;
* ``terminate_on_close`` off (AgentCore does not take DELETE on the endpoint), the connect
  timeout for connecting and writing, the read timeout for each wait for data and, through
  the MCP session, for each request's whole answer, so a slow tool cannot hang a caller.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import botocore.session
import httpx

from agentcore_bridge.client import SESSION_HEADER, USER_ID_HEADER
from agentcore_bridge.credentials import botocore_session as new_botocore_session
from agentcore_bridge.credentials import (
    default_region,
    resolve_bearer_token,
    resolve_credentials,
    resolve_endpoint,
    static_credentials,
)
from agentcore_bridge.errors import (
    AgentCoreError,
    AgentCoreTimeoutError,
    AgentError,
    InvalidRequestError,
    InvalidTargetError,
    error_from_response,
)
from agentcore_bridge.mcp_auth import AgentCoreAuth
from agentcore_bridge.sessions import new_session_id, validate_session_id
from agentcore_bridge.targets import MODEL_PREFIX, RuntimeTarget, parse_target
from agentcore_bridge.transport import Failure, transport_error

T = TypeVar("T")

DEFAULT_QUALIFIER = "DEFAULT"
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 900.0
"""AgentCore's limit for a synchronous request is 15 minutes."""

_GATEWAY_HOST = re.compile(
    r"(?P<id>[a-z0-9][a-z0-9-]*)\.gateway\.bedrock-agentcore\."
    r"(?P<region>[a-z]{2}(?:-[a-z]+)+-\d{1,2})\.amazonaws\.com(?:\.cn)?"
)
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
_RUNTIME_PATH = re.compile(r"(?P<prefix>.*)/runtimes/(?P<arn>[^/]+)/invocations/?")
# Headers the connection sets itself: given through their own arguments, never in ``headers``.
_OWN_HEADERS = {
    "authorization": "bearer_token",
    "host": "target",
    "x-amz-date": "the signer",
    "x-amz-security-token": "aws_session_token",
    SESSION_HEADER.lower(): "runtime_session_id",
    USER_ID_HEADER.lower(): "runtime_user_id",
}


class McpToolError(AgentError):
    """An MCP tool reported a failure (its result had ``isError``); the message is the tool's.

    Not AgentCore's refusal: the request reached the tool, which ran and failed.
    """


@dataclass(frozen=True, slots=True)
class McpTarget:
    """Where an MCP client connects: an MCP runtime (``runtime`` set) or a Gateway (``url``)."""

    runtime: RuntimeTarget | None
    url: str | None
    """The Gateway's MCP URL, or a runtime's invocation URL given as a URL."""
    region: str | None
    """The signing region; None for a Gateway URL that does not name one (give region_name)."""

    @property
    def is_gateway(self) -> bool:
        return self.runtime is None


def parse_mcp_target(
    target: str, *, qualifier: str | None = None, region_name: str | None = None
) -> McpTarget:
    """Resolve an MCP runtime ARN, ``bedrock/agentcore/<ARN>``, a runtime's invocation URL, or
    an AgentCore Gateway URL (``https://{gateway-id}.gateway.bedrock-agentcore.{region}
    .amazonaws.com/mcp``; other ``https`` URLs ending in ``/mcp``, and ``http`` on the loopback
    interface, are taken as Gateway-style endpoints too, e.g. a local runtime's). Pure: raises
    InvalidTargetError for anything malformed or inconsistent, sends nothing."""
    if not isinstance(target, str) or not target.strip():
        raise InvalidTargetError(
            "no MCP target given: pass an MCP runtime ARN "
            "(arn:aws:bedrock-agentcore:<region>:<account>:runtime/<id>), "
            "'bedrock/agentcore/<ARN>', or an AgentCore Gateway URL "
            "(https://<gateway-id>.gateway.bedrock-agentcore.<region>.amazonaws.com/mcp)"
        )
    value = target.strip()
    if value.startswith(("http://", "https://")):
        return _parse_url(value, qualifier=qualifier, region_name=region_name)
    arn = value.removeprefix(MODEL_PREFIX)
    if not arn.startswith("arn:"):
        raise InvalidTargetError(
            f"{value!r} is neither an MCP runtime ARN nor a Gateway URL: expected "
            "arn:<partition>:bedrock-agentcore:<region>:<account>:runtime/<id>, "
            "'bedrock/agentcore/<ARN>' or https://<gateway-id>.gateway.bedrock-agentcore."
            "<region>.amazonaws.com/mcp"
        )
    runtime = parse_target(arn, region=region_name, qualifier=qualifier)
    if runtime.qualifier is None:
        runtime = runtime.with_qualifier(DEFAULT_QUALIFIER)
    return McpTarget(runtime, None, runtime.region)


def _parse_url(url: str, *, qualifier: str | None, region_name: str | None) -> McpTarget:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidTargetError(f"{url!r} is not a valid URL: {exc}") from None
    host = (parts.hostname or "").lower()
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        raise InvalidTargetError(
            f"{url!r} is not a usable MCP URL: it needs a host, and no user:password@ or #fragment"
        )
    if parts.scheme == "http" and not _is_loopback(host):
        raise InvalidTargetError(
            f"{url!r}: plain http is accepted only on the loopback interface (a local "
            "runtime); AgentCore's endpoints are https"
        )
    found = _RUNTIME_PATH.fullmatch(parts.path)
    if found is not None:  # a runtime's invocation URL, e.g. a local runtime's invocation_url()
        query_qualifier = _query_qualifier(parts.query)
        if qualifier is not None and query_qualifier is not None and qualifier != query_qualifier:
            raise InvalidTargetError(
                f"qualifier {qualifier!r} disagrees with the URL's qualifier {query_qualifier!r}"
            )
        runtime = parse_target(
            unquote(found["arn"]), region=region_name, qualifier=qualifier or query_qualifier
        )
        if runtime.qualifier is None:
            runtime = runtime.with_qualifier(DEFAULT_QUALIFIER)
        netloc = f"[{host}]" if ":" in host else host
        netloc = f"{netloc}:{port}" if port is not None else netloc
        base = f"{parts.scheme}://{netloc}{found['prefix']}"
        return McpTarget(runtime, base + runtime.path_and_query("invocations"), runtime.region)
    if qualifier is not None:
        raise InvalidTargetError("qualifier applies to runtime ARNs, not to a Gateway URL")
    gateway = _GATEWAY_HOST.fullmatch(host)
    if gateway is not None:
        if parts.scheme != "https" or parts.path not in ("/mcp", "/mcp/"):
            raise InvalidTargetError(
                f"{url!r}: an AgentCore Gateway's MCP URL is https://{host}/mcp"
            )
        if region_name is not None and region_name != gateway["region"]:
            raise InvalidTargetError(
                f"region {region_name!r} disagrees with the Gateway's region "
                f"{gateway['region']!r}: requests are signed for the Gateway's own region"
            )
        return McpTarget(None, url, gateway["region"])
    if not parts.path.rstrip("/").endswith("/mcp"):
        raise InvalidTargetError(
            f"{url!r} is neither an AgentCore Gateway URL (https://<gateway-id>.gateway."
            "bedrock-agentcore.<region>.amazonaws.com/mcp) nor an MCP endpoint ending in /mcp"
        )
    if region_name is not None and _REGION.fullmatch(region_name) is None:
        raise InvalidTargetError(f"region {region_name!r} is not an AWS region name")
    return McpTarget(None, url, region_name)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _query_qualifier(query: str) -> str | None:
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "qualifier" and value:
            return unquote(value)
    return None


class AgentCoreHttpClientFactory:
    """Makes the ``httpx.AsyncClient`` of each MCP session: AgentCore's signing, TLS settings,
    connection attempts retried when nothing was sent, redirects left to the MCP client.

    It has the signature of the ``mcp`` SDK's ``McpHttpClientFactory`` (and the
    ``httpx_client_factory`` of langchain-mcp-adapters): ``auth`` given by the caller replaces
    the factory's own.
    """

    def __init__(
        self, auth: AgentCoreAuth, *, connect_retries: int = 3, verify: bool | str = True
    ) -> None:
        self.auth = auth
        self.connect_retries = connect_retries
        self.verify = verify

    def __call__(
        self,
        headers: dict[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        auth: httpx.Auth | None = None,
    ) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            headers=headers,
            timeout=timeout or httpx.Timeout(DEFAULT_CONNECT_TIMEOUT, read=DEFAULT_READ_TIMEOUT),
            auth=auth or self.auth,
            transport=httpx.AsyncHTTPTransport(retries=self.connect_retries, verify=self.verify),
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"AgentCoreHttpClientFactory(auth={self.auth!r})"


def mcp_connection(
    target: str,
    *,
    qualifier: str | None = None,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
    profile_name: str | None = None,
    bearer_token: str | None = None,
    runtime_user_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    runtime_session_id: str | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    max_retries: int = 3,
    retry_base_delay: float = 0.25,
    verify: bool | str = True,
    botocore_session: botocore.session.Session | None = None,
) -> dict[str, Any]:
    """A streamable-HTTP MCP connection (langchain-mcp-adapters' ``StreamableHttpConnection``)
    to an AgentCore MCP runtime or Gateway; see the module docstring for what it carries.

    ``target``: an MCP runtime ARN, ``bedrock/agentcore/<ARN>``, or a Gateway URL. ``region_name``
    must agree with the ARN's (or the Gateway host's) region; for another MCP URL it is the
    signing region (else the profile's). ``endpoint_url`` replaces boto3's resolved endpoint for
    runtimes. Credentials: ``bearer_token`` (or ``AGENTCORE_BEARER_TOKEN``) for OAuth endpoints,
    else the keys given, else boto3's chain for ``profile_name`` (refreshable credentials are
    re-read per request). ``headers``: extra headers for every request (e.g.
    ``X-Amzn-Bedrock-AgentCore-Runtime-Custom-*``). ``read_timeout`` bounds each wait for data
    and each MCP request's whole answer; ``max_retries`` the retries of throttled requests.

    Everything is checked here, before any request: a malformed ARN or URL raises
    InvalidTargetError, other bad arguments InvalidRequestError, missing credentials
    AccessDeniedError.
    """
    if connect_timeout <= 0 or read_timeout <= 0:
        raise InvalidRequestError("connect_timeout and read_timeout must be positive")
    if max_retries < 0 or retry_base_delay < 0:
        raise InvalidRequestError("max_retries and retry_base_delay must be 0 or more")
    given = static_credentials(aws_access_key_id, aws_secret_access_key, aws_session_token)
    resolved = parse_mcp_target(target, qualifier=qualifier, region_name=region_name)
    request_headers = _connection_headers(resolved, headers, runtime_user_id, runtime_session_id)
    if endpoint_url is not None and resolved.url is not None:
        raise InvalidRequestError(
            "endpoint_url applies to runtime ARNs: a URL (a Gateway's, an invocation URL) is "
            "its own endpoint"
        )
    session: botocore.session.Session | None = botocore_session

    def boto() -> botocore.session.Session:
        nonlocal session
        if session is None:
            session = new_botocore_session(profile_name)
        return session

    token = resolve_bearer_token(bearer_token)
    if token:
        auth = AgentCoreAuth.bearer(
            token, max_retries=max_retries, retry_base_delay=retry_base_delay
        )
    else:
        region = resolved.region or default_region(boto())
        if region is None:
            raise InvalidRequestError(
                f"{resolved.url!r} names no region to sign for: pass region_name (the "
                "Gateway's region) or a bearer_token"
            )
        credentials = resolve_credentials(boto(), given)
        auth = AgentCoreAuth.sigv4(
            credentials, region, max_retries=max_retries, retry_base_delay=retry_base_delay
        )
    if resolved.runtime is not None and resolved.url is None:
        endpoint = (
            endpoint_url.rstrip("/")
            if endpoint_url
            else resolve_endpoint(boto(), resolved.runtime.region)
        )
        url = endpoint + resolved.runtime.path_and_query("invocations")
    else:
        assert resolved.url is not None
        url = resolved.url
    return {
        "transport": "streamable_http",
        "url": url,
        "headers": request_headers,
        "timeout": connect_timeout,
        "sse_read_timeout": read_timeout,
        "terminate_on_close": False,
        "httpx_client_factory": AgentCoreHttpClientFactory(
            auth, connect_retries=max_retries, verify=verify
        ),
        "session_kwargs": {"read_timeout_seconds": timedelta(seconds=read_timeout)},
    }


def _connection_headers(
    target: McpTarget,
    extra: Mapping[str, str] | None,
    runtime_user_id: str | None,
    runtime_session_id: str | None,
) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in (extra or {}).items():
        if not (
            isinstance(name, str) and isinstance(value, str) and name.isascii() and value.isascii()
            and name.isprintable() and value.isprintable() and name.strip() == name and name
        ):  # fmt: skip
            raise InvalidRequestError(f"header {name!r} must be a printable ASCII name and value")
        own = _OWN_HEADERS.get(name.lower())
        if own is not None:
            raise InvalidRequestError(f"header {name!r} is set by the connection: use {own}=")
        found[name] = value
    if target.runtime is None:
        if runtime_user_id is not None or runtime_session_id is not None:
            raise InvalidRequestError(
                "runtime_user_id and runtime_session_id apply to MCP runtimes, not to a Gateway"
            )
        return found
    found[SESSION_HEADER] = (
        validate_session_id(runtime_session_id)
        if runtime_session_id is not None
        else new_session_id()
    )
    if runtime_user_id is not None:
        if not (
            isinstance(runtime_user_id, str) and 1 <= len(runtime_user_id) <= 1024
            and runtime_user_id.isascii() and runtime_user_id.isprintable()
        ):  # fmt: skip
            raise InvalidRequestError(
                f"runtime_user_id must be 1 to 1024 printable ASCII characters (it is an HTTP "
                f"header), got {runtime_user_id!r}"
            )
        found[USER_ID_HEADER] = runtime_user_id
    return found


# --- what an MCP session raises ---------------------------------------------------------------


def mcp_session_error(exc: BaseException) -> AgentCoreError | None:
    """The package's error for what an MCP client session raised, or None.

    The ``mcp`` SDK runs each HTTP request in a task group, so a failure reaches the caller as
    an ``ExceptionGroup``, possibly nested: the AgentCore error raised by the signing auth is
    found inside it; httpx's own failures map through the transport's failure table (a connect
    failure, a read timeout, a broken connection); an HTTP error status maps like any other
    AgentCore response; the MCP session's own request timeout is a timeout. Anything else
    (a server's JSON-RPC error, a bug) gives None: the caller re-raises it as it is.
    """
    leaves = list(_leaves(exc))
    for leaf in leaves:
        if isinstance(leaf, AgentCoreError):
            return leaf
    for leaf in leaves:
        mapped = _mapped(leaf)
        if mapped is not None:
            mapped.__cause__ = leaf
            return mapped
    return None


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        found: list[BaseException] = []
        for inner in exc.exceptions:
            found.extend(_leaves(inner))
        return found
    return [exc]


def _mapped(exc: BaseException) -> AgentCoreError | None:
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return error_from_response(
            response.status_code,
            response.headers.get("x-amzn-errortype"),
            f"the MCP endpoint answered HTTP {response.status_code}",
            request_id=response.headers.get("x-amzn-requestid"),
            session_id=exc.request.headers.get(SESSION_HEADER),
        )
    if isinstance(exc, httpx.RequestError):
        failure = _FAILURES.get(type(exc))
        if failure is None:
            failure = next(
                (f for cls, f in _FAILURES.items() if isinstance(exc, cls)), Failure.BROKEN_MID_BODY
            )
        try:
            request = exc.request
        except RuntimeError:  # raised without a request attached
            where, timeouts = "the MCP endpoint", {}
        else:
            where, timeouts = (
                str(request.url.copy_with(query=None)),
                request.extensions.get("timeout", {}),
            )
        seconds = timeouts.get("connect" if "CONNECT" in failure.name else "read") or 0.0
        return transport_error(failure, where=where, detail=exc, seconds=seconds)
    if _is_mcp_timeout(exc):
        return AgentCoreTimeoutError(
            f"no answer from the MCP endpoint in time (read_timeout): {exc}; raise "
            "read_timeout if the tool needs longer"
        )
    return None


_FAILURES: dict[type[httpx.RequestError], Failure] = {
    httpx.ConnectTimeout: Failure.CONNECT_TIMEOUT,
    httpx.PoolTimeout: Failure.CONNECT_TIMEOUT,
    httpx.ProxyError: Failure.PROXY,
    httpx.ConnectError: Failure.CONNECT,
    httpx.ReadTimeout: Failure.READ_TIMEOUT,
    httpx.WriteTimeout: Failure.HEAD_TIMEOUT,
    httpx.WriteError: Failure.BROKEN_BEFORE_HEAD,
    httpx.ReadError: Failure.BROKEN_MID_BODY,
    httpx.RemoteProtocolError: Failure.BROKEN_MID_BODY,
}


def _is_mcp_timeout(exc: BaseException) -> bool:
    """The MCP session's own wait for an answer ran out (``read_timeout_seconds``)."""
    try:
        from mcp.shared.exceptions import McpError
    except ImportError:  # pragma: no cover - the mcp extra is not installed
        return False
    return isinstance(exc, McpError) and exc.error.code == httpx.codes.REQUEST_TIMEOUT


def run_blocking(make: Callable[[], Awaitable[T]]) -> T:
    """Run the awaitable ``make()`` to its end from synchronous code: on a new event loop in
    this thread, or, when this thread already runs one (a notebook, an async framework calling
    a sync tool), on a new loop in a worker thread, since that loop cannot be blocked on."""

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(1, thread_name_prefix="agentcore-mcp") as pool:
        return pool.submit(asyncio.run, main()).result()
