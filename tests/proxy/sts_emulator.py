"""A tiny STS for tests: ``AssumeRole`` (SigV4-checked against the source credentials) and
``AssumeRoleWithWebIdentity`` (unsigned, as AWS serves it) answered in STS's XML with fresh
temporary credentials, which it registers with a local AgentCore runtime so that runtime accepts
the assumed role's requests and nothing else."""

from __future__ import annotations

import secrets
import string
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agentcore_bridge.local.sigv4 import AuthFailure, LocalCredentials, verify_sigv4

_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass
class StsEmulator:
    source: LocalCredentials
    """The credentials AssumeRole must be signed with."""
    grant_to: MutableMapping[str, LocalCredentials]
    """Where minted credentials are registered (a local runtime's accepted credentials)."""
    region: str = "us-west-2"
    lifetime: timedelta = timedelta(hours=1)
    calls: list[dict[str, str]] = field(default_factory=list)
    minted: list[LocalCredentials] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/", self._handle, methods=["POST"])])

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        form = dict(parse_qsl(body.decode()))
        action = form.get("Action", "")
        self.calls.append(form)
        if action == "AssumeRole":
            scope: dict[str, Any] = request.scope
            try:
                verify_sigv4(
                    method="POST",
                    raw_path=scope.get("raw_path", b"/").decode(),
                    query_string=scope.get("query_string", b"").decode(),
                    headers=[(k.decode(), v.decode()) for k, v in scope["headers"]],
                    body=body,
                    region=self.region,
                    service="sts",
                    credentials={self.source.access_key_id: self.source},
                )
            except AuthFailure as failure:
                return _error(failure.status, failure.error_type, failure.message)
        elif action == "AssumeRoleWithWebIdentity":
            if not form.get("WebIdentityToken"):
                return _error(400, "ValidationError", "WebIdentityToken is required")
        else:
            return _error(400, "InvalidAction", f"Could not find operation {action}")
        return self._credentials(action, form)

    def _credentials(self, action: str, form: dict[str, str]) -> Response:
        granted = LocalCredentials(
            "ASIA" + _random(string.ascii_uppercase + string.digits, 16),
            _random(string.ascii_letters + string.digits, 40),
            _random(string.ascii_letters + string.digits, 120),
        )
        self.minted.append(granted)
        self.grant_to[granted.access_key_id] = granted
        expires = (datetime.now(UTC) + self.lifetime).strftime("%Y-%m-%dT%H:%M:%SZ")
        role = escape(form.get("RoleArn", ""))
        name = escape(form.get("RoleSessionName", ""))
        extra = (
            "<SubjectFromWebIdentityToken>test-subject</SubjectFromWebIdentityToken>"
            "<Provider>test-provider</Provider><Audience>sts.amazonaws.com</Audience>"
            if action == "AssumeRoleWithWebIdentity"
            else ""
        )
        xml = (
            f'<{action}Response xmlns="{_NAMESPACE}"><{action}Result>'
            f"<Credentials><AccessKeyId>{granted.access_key_id}</AccessKeyId>"
            f"<SecretAccessKey>{granted.secret_access_key}</SecretAccessKey>"
            f"<SessionToken>{granted.session_token}</SessionToken>"
            f"<Expiration>{expires}</Expiration></Credentials>"
            f"<AssumedRoleUser><Arn>{role}/{name}</Arn>"
            f"<AssumedRoleId>AROATEST:{name}</AssumedRoleId></AssumedRoleUser>{extra}"
            f"</{action}Result><ResponseMetadata><RequestId>{secrets.token_hex(8)}</RequestId>"
            f"</ResponseMetadata></{action}Response>"
        )
        return Response(xml, media_type="text/xml")


def _error(status: int, code: str, message: str) -> Response:
    xml = (
        f'<ErrorResponse xmlns="{_NAMESPACE}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>0</RequestId></ErrorResponse>"
    )
    return Response(xml, status_code=status, media_type="text/xml")


class RecordingCredentials(dict[str, LocalCredentials]):
    """A local runtime's accepted credentials that remember which key ids requests named."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.looked_up: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.looked_up.append(key)
        return super().get(key, default)
