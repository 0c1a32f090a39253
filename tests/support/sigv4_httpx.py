"""A test-only httpx.Auth that signs each request with SigV4 for bedrock-agentcore, so the real
`mcp` client (and any httpx client) can talk to the local runtime's runtimes and Gateways."""

from __future__ import annotations

from collections.abc import Generator

import httpx
from botocore.credentials import Credentials

from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.signing import SigV4Signer

# Headers worth signing besides host (x-amz-date is added by the signer).
_SIGNED = ("content-type", "accept", "mcp-session-id", "mcp-protocol-version")


class SigV4HttpxAuth(httpx.Auth):
    requires_request_body = True

    def __init__(self, credentials: Credentials, region: str) -> None:
        self._signer = SigV4Signer(credentials, region)

    @classmethod
    def for_runtime(cls, runtime: LocalRuntime, region: str | None = None) -> SigV4HttpxAuth:
        creds = runtime.credentials
        return cls(
            Credentials(creds.access_key_id, creds.secret_access_key, creds.session_token),
            region or runtime.region,
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        to_sign = {"host": request.headers["host"]}
        to_sign.update({name: request.headers[name] for name in _SIGNED if name in request.headers})
        # Sign the URL exactly as it goes on the wire (the ARN stays percent-encoded once).
        url = f"{request.url.scheme}://{request.url.netloc.decode()}{request.url.raw_path.decode()}"
        signed = self._signer.sign(request.method, url, to_sign, request.content)
        for name, value in signed.items():
            if name.lower() != "host":
                request.headers[name] = value
        yield request
