"""Server-side SigV4 verification with botocore's signer, as strict as AgentCore's front door.

The canonical request is rebuilt from what actually arrived: the raw request path (so a client
that signed ``%3A`` but sent ``:`` is refused, as AWS refuses it), the query, exactly the headers
the client listed as signed, and the SHA-256 of the body received.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from urllib.parse import parse_qsl

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

MAX_CLOCK_SKEW = timedelta(minutes=5)
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)


@dataclass(frozen=True)
class LocalCredentials:
    """A key pair the local runtime accepts (``session_token`` required when set)."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return f"LocalCredentials(access_key_id={self.access_key_id!r}, secret_access_key='***')"


class AuthFailure(Exception):
    """Why a request is refused: the HTTP status, AWS error type and AWS-worded message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)


class _ExactHeadersSigner(SigV4Auth):
    """botocore's SigV4 with the header set fixed to what the client said it signed."""

    def __init__(self, credentials: Credentials, service: str, region: str, signed: list[str]):
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                headers[name] = value
        return headers


def verify_sigv4(
    *,
    method: str,
    raw_path: str,
    query_string: str,
    headers: list[tuple[str, str]],
    body: bytes,
    region: str,
    service: str,
    credentials: Mapping[str, LocalCredentials],
    now: datetime | None = None,
) -> LocalCredentials:
    """Check a SigV4-signed request; return the matching credentials or raise AuthFailure."""
    by_name: dict[str, list[str]] = {}
    for name, value in headers:
        by_name.setdefault(name.lower(), []).append(value)
    authorization = (by_name.get("authorization") or [""])[0]
    if not authorization:
        raise AuthFailure(
            403, "MissingAuthenticationTokenException", "Missing Authentication Token"
        )
    match = _AUTHORIZATION.fullmatch(authorization.strip())
    if match is None:
        raise AuthFailure(
            403,
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            "parameters, signed with AWS4-HMAC-SHA256.",
        )
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise AuthFailure(403, "IncompleteSignatureException", "Credential is malformed.")
    key_id, date, scope_region, scope_service, _ = parts
    known = credentials.get(key_id)
    if known is None:
        raise AuthFailure(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    if scope_service != service:
        raise AuthFailure(
            403,
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{service}'.",
        )
    if scope_region != region:
        raise AuthFailure(
            403,
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{scope_region}'. "
            f"The runtime is in '{region}'.",
        )
    signed = match["signed"].split(";")
    if "host" not in signed:
        raise AuthFailure(403, "InvalidSignatureException", "'Host' must be a signed header.")
    missing = [name for name in signed if name not in by_name]
    if missing:
        raise AuthFailure(403, "InvalidSignatureException", _SIGNATURE_MISMATCH)
    amz_date = (by_name.get("x-amz-date") or [""])[0]
    if "x-amz-date" not in signed or not amz_date.startswith(date):
        raise AuthFailure(
            403, "IncompleteSignatureException", "X-Amz-Date must be signed and match the scope."
        )
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise AuthFailure(403, "IncompleteSignatureException", "X-Amz-Date is malformed.") from None
    current = now or datetime.now(UTC)
    if abs(current - signed_at) > MAX_CLOCK_SKEW:
        fmt = "%Y%m%dT%H%M%SZ"
        raise AuthFailure(
            403,
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than "
            f"{(current - MAX_CLOCK_SKEW).strftime(fmt)} ({current.strftime(fmt)} - 5 min.)"
            if signed_at < current
            else f"Signature not yet current: {amz_date} is still later than "
            f"{(current + MAX_CLOCK_SKEW).strftime(fmt)} ({current.strftime(fmt)} + 5 min.)",
        )
    tokens = by_name.get("x-amz-security-token")
    token = tokens[0] if tokens else None
    if known.session_token is not None and (
        token is None
        or "x-amz-security-token" not in signed
        or not hmac.compare_digest(token, known.session_token)
    ):
        raise AuthFailure(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    content_sha = by_name.get("x-amz-content-sha256")
    if content_sha and content_sha[0] != sha256(body).hexdigest():
        raise AuthFailure(
            400,
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )

    request = AWSRequest(
        method=method,
        url=f"https://{by_name['host'][0]}{raw_path}",
        data=body,
        params=parse_qsl(query_string, keep_blank_values=True),  # type: ignore[arg-type]
    )
    for name in signed:
        for value in by_name[name]:
            request.headers[name] = value  # HTTPHeaders appends repeated headers
    request.context["timestamp"] = amz_date
    signer = _ExactHeadersSigner(
        Credentials(known.access_key_id, known.secret_access_key, known.session_token),
        service,
        region,
        signed,
    )
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, match["signature"]):
        raise AuthFailure(403, "InvalidSignatureException", _SIGNATURE_MISMATCH)
    return known
