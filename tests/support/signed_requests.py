"""Requests of any method and path signed as botocore signs them, for raw HTTP tests of the local
runtime's A2A, MCP and Gateway routes (GETs and trailing slashes included)."""

from __future__ import annotations

from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from agentcore_bridge.local import LocalRuntime


def runtime_path(arn: str, tail: str = "/invocations") -> str:
    return f"/runtimes/{quote(arn, safe='')}{tail}"


def signed_headers(
    runtime: LocalRuntime,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    region: str | None = None,
    host: str | None = None,
) -> dict[str, str]:
    """Headers (``Host`` first) for ``method path`` signed for bedrock-agentcore in ``region``.

    ``path`` is sent as given (already percent-encoded, query included); ``host`` overrides
    the ``Host`` header signed and sent (a Gateway's real host name)."""
    host = host or f"127.0.0.1:{runtime.port}"
    request = AWSRequest(
        method=method, url=f"http://{host}{path}", data=body, headers=dict(headers or {})
    )
    creds = runtime.credentials
    SigV4Auth(
        Credentials(creds.access_key_id, creds.secret_access_key, creds.session_token),
        "bedrock-agentcore",
        region or runtime.region,
    ).add_auth(request)
    return {"Host": host, **dict(request.headers.items())}
