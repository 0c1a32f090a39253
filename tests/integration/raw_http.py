"""Raw HTTP for the integration tests: requests signed with botocore, sent byte for byte."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from agentcore_bridge.local import LocalRuntime


@dataclass
class RawRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    extra_headers: list[tuple[str, str]] = field(default_factory=list)


def signed_request(
    runtime: LocalRuntime,
    arn: str,
    payload: Any = None,
    *,
    operation: str = "invocations",
    query: str = "",
    headers: dict[str, str] | None = None,
    region: str | None = None,
    service: str = "bedrock-agentcore",
    access_key: str | None = None,
    secret_key: str | None = None,
    token: str | None = None,
    when: datetime | None = None,
) -> RawRequest:
    """A request signed as botocore signs InvokeAgentRuntime (path percent-encoded once)."""
    body = (
        payload if isinstance(payload, bytes) else json.dumps(payload or {"prompt": "hi"}).encode()
    )
    path = f"/runtimes/{quote(arn, safe='')}/{operation}" + (f"?{query}" if query else "")
    request = AWSRequest(
        method="POST",
        url=f"{runtime.endpoint_url}{path}",
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    creds = Credentials(
        access_key or runtime.credentials.access_key_id,
        secret_key or runtime.credentials.secret_access_key,
        token,
    )
    signer = SigV4Auth(creds, service, region or runtime.region)
    if when is None:
        signer.add_auth(request)
    else:
        # Sign as of another moment (clock-skew cases).
        request.context["timestamp"] = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        request.headers["X-Amz-Date"] = request.context["timestamp"]
        if token:
            request.headers["X-Amz-Security-Token"] = token
        canonical = signer.canonical_request(request)
        sts = signer.string_to_sign(request, canonical)
        signature = signer.signature(sts, request)
        scope = signer.scope(request)
        signed = signer.signed_headers(signer.headers_to_sign(request))
        request.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={signed}, Signature={signature}"
        )
    # botocore signs the host from the URL; http.client must send that same Host header.
    return RawRequest(
        "POST", path, {"Host": f"127.0.0.1:{runtime.port}", **dict(request.headers.items())}, body
    )


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(runtime: LocalRuntime, request: RawRequest, timeout: float = 30) -> RawResponse:
    conn = http.client.HTTPConnection("127.0.0.1", runtime.port, timeout=timeout)
    try:
        conn.putrequest(request.method, request.path, skip_host=True, skip_accept_encoding=True)
        for name, value in [*request.headers.items(), *request.extra_headers]:
            conn.putheader(name, value)
        if not any(k.lower() == "content-length" for k in request.headers):
            conn.putheader("Content-Length", str(len(request.body)))
        conn.endheaders(request.body)
        response = conn.getresponse()
        body = response.read()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        conn.close()


def open_stream(
    runtime: LocalRuntime, request: RawRequest, timeout: float = 30
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """Send ``request`` and return the response unread, to read it piece by piece."""
    conn = http.client.HTTPConnection("127.0.0.1", runtime.port, timeout=timeout)
    conn.putrequest(request.method, request.path, skip_host=True, skip_accept_encoding=True)
    for name, value in request.headers.items():
        conn.putheader(name, value)
    conn.putheader("Content-Length", str(len(request.body)))
    conn.endheaders(request.body)
    return conn, conn.getresponse()
