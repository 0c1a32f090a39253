"""The MCP signing auth (``AgentCoreAuth``), the MCP target and connection rules, and the mapping
of what an MCP session raises, without a server: httpx's MockTransport plays AgentCore."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, RefreshableCredentials
from mcp.shared.exceptions import McpError
from mcp.types import ErrorData

from agentcore_bridge.errors import (
    AccessDeniedError,
    AgentCoreTimeoutError,
    ConnectError,
    InvalidRequestError,
    InvalidSessionIdError,
    InvalidTargetError,
    ResourceNotFoundError,
    RetryableConflictError,
    RuntimeClientError,
    ServiceError,
    ServiceValidationError,
    ThrottlingError,
)
from agentcore_bridge.local.sigv4 import AuthFailure, LocalCredentials, verify_sigv4
from agentcore_bridge.mcp import mcp_connection, mcp_session_error, parse_mcp_target
from agentcore_bridge.mcp_auth import MCP_ACCEPT, AgentCoreAuth, mcp_platform_error

ARN = "arn:aws:bedrock-agentcore:eu-west-1:123456789012:runtime/tools-AbCdEf1234"
URL = (
    "https://bedrock-agentcore.eu-west-1.amazonaws.com/runtimes/"
    "arn%3Aaws%3Abedrock-agentcore%3Aeu-west-1%3A123456789012%3Aruntime%2Ftools-AbCdEf1234"
    "/invocations?qualifier=DEFAULT"
)
GATEWAY = "https://tools-gw-abc123.gateway.bedrock-agentcore.eu-west-1.amazonaws.com/mcp"
KEY, SECRET, TOKEN = "AKIDEXAMPLE", "secret-key-4f1c9e", "session-token-77ad"
INITIALIZE = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}).encode()
SECRETS = (SECRET, TOKEN, "bearer-secret-93b1")


def creds() -> Credentials:
    return Credentials(KEY, SECRET, TOKEN)


def mcp_headers(**extra: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Accept": MCP_ACCEPT, **extra}


def rpc_error(code: int, message: str = "refused", request_id: int = 1) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    ).encode()


def signature_is_valid(request: httpx.Request, region: str) -> bool:
    """The local runtime's server-side SigV4 check (botocore's algorithm over what arrived)."""
    try:
        verify_sigv4(
            method=request.method,
            raw_path=request.url.raw_path.decode().split("?")[0],
            query_string=request.url.query.decode(),
            headers=list(request.headers.multi_items()),
            body=request.content,
            region=region,
            service="bedrock-agentcore",
            credentials={KEY: LocalCredentials(KEY, SECRET, TOKEN)},
        )
    except AuthFailure:
        return False
    return True


# --- signing ----------------------------------------------------------------------------------


def test_signature_equals_botocore_over_the_exact_body() -> None:
    body = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"add"}}'
    request = httpx.Request(
        "POST", URL, content=body,
        headers=mcp_headers(**{"Mcp-Session-Id": "s-1", "User-Agent": "x", "Traceparent": "t"}),
    )  # fmt: skip
    signed = next(AgentCoreAuth.sigv4(creds(), "eu-west-1").sync_auth_flow(request))
    authorization = signed.headers["authorization"]
    names = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert "user-agent" not in names and {"host", "mcp-session-id", "x-amz-date"} <= set(names)

    # botocore's SigV4Auth over the same request, the same headers and timestamp
    stamp = signed.headers["x-amz-date"]
    theirs = AWSRequest(
        method="POST", url=URL, data=body,
        headers={name: signed.headers[name] for name in names},
    )  # fmt: skip
    theirs.context["timestamp"] = stamp
    signer = SigV4Auth(creds(), "bedrock-agentcore", "eu-west-1")
    canonical = signer.canonical_request(theirs)
    expected = signer.signature(signer.string_to_sign(theirs, canonical), theirs)
    assert authorization.endswith(f"Signature={expected}")
    assert f"Credential={KEY}/{stamp[:8]}/eu-west-1/bedrock-agentcore/aws4_request" in authorization
    assert signed.headers["x-amz-security-token"] == TOKEN
    assert signature_is_valid(signed, "eu-west-1")
    assert not signature_is_valid(signed, "us-west-2")

    tampered = httpx.Request("POST", URL, content=body + b" ", headers=dict(signed.headers))
    assert not signature_is_valid(tampered, "eu-west-1")


def signing_server(seen: list[httpx.Request], region: str = "eu-west-1") -> httpx.MockTransport:
    """Answers 200 when the request's signature is valid for ``region``, else AgentCore's 403."""

    def answer(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        if not signature_is_valid(request, region):
            return httpx.Response(
                403, headers={"x-amzn-errortype": "InvalidSignatureException"},
                content=rpc_error(-32002, "signature mismatch"),
            )  # fmt: skip
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {}})

    return httpx.MockTransport(answer)


def test_streamed_bodies_are_signed_over_what_is_sent_sync() -> None:
    seen: list[httpx.Request] = []
    auth = AgentCoreAuth.sigv4(creds(), "eu-west-1")
    with httpx.Client(transport=signing_server(seen), auth=auth) as client:
        for parts in ([b'{"a":', b"1}"], [b"x" * 70_000, b"y"]):
            response = client.post(URL, content=iter(parts), headers=mcp_headers())
            assert response.status_code == 200
    assert [r.content for r in seen] == [b'{"a":1}', b"x" * 70_000 + b"y"]


async def test_streamed_bodies_are_signed_over_what_is_sent_async() -> None:
    seen: list[httpx.Request] = []

    async def body() -> AsyncIterator[bytes]:
        yield b'{"jsonrpc":"2.0",'
        yield b'"id":1}'

    auth = AgentCoreAuth.sigv4(creds(), "eu-west-1")
    async with httpx.AsyncClient(transport=signing_server(seen), auth=auth) as client:
        for _ in range(3):  # each request signed on its own
            response = await client.post(URL, content=body(), headers=mcp_headers())
            assert response.status_code == 200
    assert len(seen) == 3 and all(r.content == b'{"jsonrpc":"2.0","id":1}' for r in seen)


def test_refreshable_credentials_are_read_per_request() -> None:
    issued: list[str] = []

    def refresh() -> dict[str, str]:
        issued.append(f"AKIDROTATED{len(issued):05d}")
        # already inside the refresh window: botocore refreshes on every read
        expiry = datetime.now(UTC) + timedelta(minutes=5)
        return {
            "access_key": issued[-1], "secret_key": SECRET, "token": TOKEN,
            "expiry_time": expiry.isoformat(),
        }  # fmt: skip

    rotating = RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    auth = AgentCoreAuth.sigv4(rotating, "eu-west-1")
    keys = []
    for _ in range(2):
        request = httpx.Request("POST", URL, content=INITIALIZE, headers=mcp_headers())
        signed = next(auth.sync_auth_flow(request))
        keys.append(signed.headers["authorization"].split("Credential=")[1].split("/")[0])
    assert keys == issued[-2:] and keys[0] != keys[1]


def test_bearer_auth_sets_only_the_token() -> None:
    request = httpx.Request("POST", GATEWAY, content=INITIALIZE, headers=mcp_headers())
    signed = next(AgentCoreAuth.bearer("bearer-secret-93b1").sync_auth_flow(request))
    assert signed.headers["authorization"] == "Bearer bearer-secret-93b1"
    assert "x-amz-date" not in signed.headers


def test_no_secret_in_reprs_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sigv4 = AgentCoreAuth.sigv4(creds(), "eu-west-1", retry_base_delay=0)
    bearer = AgentCoreAuth.bearer("bearer-secret-93b1", retry_base_delay=0)
    connection = mcp_connection(
        ARN, aws_access_key_id=KEY, aws_secret_access_key=SECRET, aws_session_token=TOKEN
    )
    oauth = mcp_connection(GATEWAY, bearer_token="bearer-secret-93b1")
    texts = [repr(sigv4), repr(bearer), repr(connection), repr(oauth), str(connection)]

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"x-amzn-errortype": "ThrottlingException"}, content=rpc_error(-32003)
        )

    for auth in (sigv4, bearer):
        with (
            httpx.Client(transport=httpx.MockTransport(refuse), auth=auth) as client,
            pytest.raises(ThrottlingError) as caught,
        ):
            client.post(URL, content=INITIALIZE, headers=mcp_headers())
        texts += [str(caught.value), repr(caught.value)]
    texts += [record.getMessage() for record in caplog.records]
    assert any("retrying" in text for text in texts)  # the retries were logged
    for text in texts:
        assert not any(secret in text for secret in SECRETS), text


# --- platform errors and the retry rule --------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type", "code", "expected"),
    [
        (200, "ThrottlingException", -32003, ThrottlingError),
        (200, None, -32003, ThrottlingError),
        (200, None, -32004, ResourceNotFoundError),
        (200, None, -32005, RetryableConflictError),
        (200, None, -32006, ServiceValidationError),
        (200, None, -32010, RuntimeClientError),
        (200, "InternalServerException", -32603, ServiceError),
        (403, "InvalidSignatureException", -32002, AccessDeniedError),
        (403, None, -32002, AccessDeniedError),
        (406, "ValidationException", -32011, ServiceValidationError),
        (429, None, None, ThrottlingError),
    ],
)
def test_platform_errors_map_to_the_error_tree(
    status: int, error_type: str | None, code: int | None, expected: type
) -> None:
    headers = httpx.Headers({"x-amzn-errortype": error_type} if error_type else {})
    body = rpc_error(code) if code is not None else b'{"message": "Rate exceeded"}'
    error = mcp_platform_error(status, headers, body, session_id="s" * 33)
    assert type(error) is expected
    assert error.status_code == status and error.session_id == "s" * 33
    if code is not None:
        assert error.error_type  # AgentCore's type, from the header or the code


def test_what_is_not_the_platforms_is_left_to_the_mcp_client() -> None:
    none = httpx.Headers({})
    assert mcp_platform_error(200, none, rpc_error(-32603)) is None  # a server's own error
    assert mcp_platform_error(200, none, rpc_error(-32602)) is None
    assert mcp_platform_error(200, none, b'{"jsonrpc":"2.0","id":1,"result":{}}') is None


def test_oauth_challenge_names_the_missing_token() -> None:
    headers = httpx.Headers({
        "x-amzn-errortype": "AccessDeniedException",
        "www-authenticate": 'Bearer resource_metadata="https://example/.well-known/x"',
    })  # fmt: skip
    error = mcp_platform_error(401, headers, rpc_error(-32001, "Unauthorized"))
    assert isinstance(error, AccessDeniedError)
    assert "bearer_token" in str(error) and "AGENTCORE_BEARER_TOKEN" in str(error)
    assert "https://example/.well-known/x" in str(error)
    refused = mcp_platform_error(401, headers, rpc_error(-32001), sent_bearer_token=True)
    assert "token was refused" in str(refused)


def test_missing_accept_error_says_what_to_send() -> None:
    headers = httpx.Headers({"x-amzn-errortype": "ValidationException"})
    error = mcp_platform_error(406, headers, rpc_error(-32011, "Not Acceptable"))
    assert isinstance(error, ServiceValidationError) and MCP_ACCEPT in str(error)


def scripted(answers: list[httpx.Response]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return answers.pop(0)

    return httpx.MockTransport(answer), sent


def throttled() -> httpx.Response:
    return httpx.Response(
        200, headers={"content-type": "application/json", "x-amzn-errortype": "ThrottlingException"},
        content=rpc_error(-32003, "Rate exceeded"),
    )  # fmt: skip


def ok() -> httpx.Response:
    return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {"ok": True}})


@pytest.mark.parametrize("use_async", [False, True])
async def test_throttling_is_retried_and_each_attempt_signed_afresh(use_async: bool) -> None:
    transport, sent = scripted([throttled(), throttled(), ok()])
    auth = AgentCoreAuth.sigv4(creds(), "eu-west-1", max_retries=3, retry_base_delay=0)
    if use_async:
        async with httpx.AsyncClient(transport=transport, auth=auth) as client:
            response = await client.post(URL, content=INITIALIZE, headers=mcp_headers())
    else:
        with httpx.Client(transport=transport, auth=auth) as client:
            response = client.post(URL, content=INITIALIZE, headers=mcp_headers())
    assert response.json()["result"] == {"ok": True}
    assert len(sent) == 3
    for request in sent:  # one signature each, none left over from the attempt before
        assert request.headers.get_list("authorization") == [request.headers["authorization"]]
        assert len(request.headers.get_list("x-amz-date")) == 1
        assert signature_is_valid(request, "eu-west-1")


@pytest.mark.parametrize("use_async", [False, True])
async def test_throttling_past_max_retries_raises(use_async: bool) -> None:
    transport, sent = scripted([throttled() for _ in range(5)])
    auth = AgentCoreAuth.sigv4(creds(), "eu-west-1", max_retries=2, retry_base_delay=0)
    if use_async:
        async with httpx.AsyncClient(transport=transport, auth=auth) as client:
            with pytest.raises(ThrottlingError) as caught:
                await client.post(URL, content=INITIALIZE, headers=mcp_headers())
    else:
        with (
            httpx.Client(transport=transport, auth=auth) as client,
            pytest.raises(ThrottlingError) as caught,
        ):
            client.post(URL, content=INITIALIZE, headers=mcp_headers())
    assert len(sent) == 3
    assert caught.value.error_type == "ThrottlingException"


@pytest.mark.parametrize(
    "refusal",
    [
        (200, "RetryableConflictException", -32005),  # may have reached the server
        (200, "RuntimeClientError", -32010),
        (200, "InternalServerException", -32603),
        (200, "ServiceQuotaExceededException", -32003),  # a quota: waiting will not help
    ],
)
def test_other_refusals_are_not_retried(refusal: tuple[int, str, int]) -> None:
    status, error_type, code = refusal
    answer = httpx.Response(
        status, headers={"x-amzn-errortype": error_type}, content=rpc_error(code)
    )
    transport, sent = scripted([answer, ok()])
    auth = AgentCoreAuth.sigv4(creds(), "eu-west-1", retry_base_delay=0)
    with httpx.Client(transport=transport, auth=auth) as client, pytest.raises(Exception) as caught:
        client.post(URL, content=INITIALIZE, headers=mcp_headers())
    assert caught.value.error_type == error_type  # type: ignore[attr-defined]
    assert len(sent) == 1


def test_event_streams_and_get_requests_pass_through_untouched() -> None:
    stream = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=b"data: {}\n\n"
    )
    transport, sent = scripted([stream, httpx.Response(405, headers={"allow": "POST"})])
    auth = AgentCoreAuth.sigv4(creds(), "eu-west-1")
    with httpx.Client(transport=transport, auth=auth) as client:
        assert client.post(URL, content=INITIALIZE, headers=mcp_headers()).status_code == 200
        assert client.get(URL, headers=mcp_headers()).status_code == 405  # the MCP client's GET
    assert len(sent) == 2


# --- targets and connections ------------------------------------------------------------------


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No AWS configuration at all: no keys, no profile files, no instance metadata."""
    for name in (
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE",
        "AGENTCORE_BEARER_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


KEYS = {"aws_access_key_id": KEY, "aws_secret_access_key": SECRET}


def test_runtime_arn_resolves_to_its_regions_endpoint(no_aws: None) -> None:
    for target in (ARN, f"bedrock/agentcore/{ARN}"):
        connection = mcp_connection(target, **KEYS)
        assert connection["url"] == URL
        assert connection["httpx_client_factory"].auth.region == "eu-west-1"
        assert connection["transport"] == "streamable_http"
        assert connection["terminate_on_close"] is False
    prod = mcp_connection(ARN, qualifier="prod", **KEYS)
    assert prod["url"].endswith("/invocations?qualifier=prod")
    endpoint_arn = ARN + "/runtime-endpoint/prod"
    assert mcp_connection(endpoint_arn, **KEYS)["url"] == prod["url"]


def test_endpoint_from_the_environment_as_boto3_resolves_it(
    no_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", "http://127.0.0.1:9999")
    url = mcp_connection(ARN, **KEYS)["url"]
    assert url.startswith("http://127.0.0.1:9999/runtimes/arn%3Aaws%3A")
    explicit = mcp_connection(ARN, endpoint_url="http://127.0.0.1:7/", **KEYS)["url"]
    assert explicit.startswith("http://127.0.0.1:7/runtimes/")


def test_runtime_session_is_one_per_connection(no_aws: None) -> None:
    first = mcp_connection(ARN, **KEYS)["headers"]
    second = mcp_connection(ARN, **KEYS)["headers"]
    session = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
    assert 33 <= len(first[session]) <= 256 and first[session] != second[session]
    chosen = "my-runtime-session-" + "1" * 20
    assert mcp_connection(ARN, runtime_session_id=chosen, **KEYS)["headers"][session] == chosen
    with pytest.raises(InvalidSessionIdError):
        mcp_connection(ARN, runtime_session_id="short", **KEYS)
    with_user = mcp_connection(ARN, runtime_user_id="user-42", **KEYS)["headers"]
    assert with_user["X-Amzn-Bedrock-AgentCore-Runtime-User-Id"] == "user-42"


def test_gateway_url_gives_its_region_and_no_runtime_headers(no_aws: None) -> None:
    connection = mcp_connection(GATEWAY, **KEYS)
    assert connection["url"] == GATEWAY and connection["headers"] == {}
    assert connection["httpx_client_factory"].auth.region == "eu-west-1"
    local = mcp_connection("http://127.0.0.1:8/gateways/g/mcp", region_name="us-east-1", **KEYS)
    assert local["httpx_client_factory"].auth.region == "us-east-1"
    bearer = mcp_connection(GATEWAY, bearer_token="bearer-secret-93b1")
    assert bearer["httpx_client_factory"].auth.uses_bearer_token


def test_bearer_token_from_the_environment(no_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTCORE_BEARER_TOKEN", "bearer-secret-93b1")
    auth = mcp_connection(ARN, endpoint_url="http://127.0.0.1:7")["httpx_client_factory"].auth
    assert auth.uses_bearer_token


@pytest.mark.parametrize(
    "target",
    [
        "",
        "my-runtime-id",  # a bare id: MCP needs the ARN
        "arn:aws:bedrock-agentcore:eu-west-1:12345:runtime/x",
        "arn:aws:lambda:eu-west-1:123456789012:function/x",
        "ftp://tools.example.com/mcp",
        "http://tools.example.com/mcp",  # plain http off the loopback interface
        "https://tools.example.com/other",
        "https://tools-gw.gateway.bedrock-agentcore.eu-west-1.amazonaws.com/other",
        "https://user:pw@tools.example.com/mcp",
    ],
)
def test_bad_targets_fail_before_any_request(no_aws: None, target: str) -> None:
    with pytest.raises(InvalidTargetError):
        mcp_connection(target, **KEYS)


def test_inconsistent_arguments_fail_before_any_request(no_aws: None) -> None:
    with pytest.raises(InvalidTargetError, match="region"):
        mcp_connection(ARN, region_name="us-west-2", **KEYS)
    with pytest.raises(InvalidTargetError, match="region"):
        mcp_connection(GATEWAY, region_name="us-west-2", **KEYS)
    with pytest.raises(InvalidTargetError, match="qualifier"):
        mcp_connection(GATEWAY, qualifier="prod", **KEYS)
    with pytest.raises(InvalidRequestError, match="endpoint_url"):
        mcp_connection(GATEWAY, endpoint_url="http://127.0.0.1:7", **KEYS)
    with pytest.raises(InvalidRequestError, match="runtime_user_id"):
        mcp_connection(GATEWAY, runtime_user_id="u", **KEYS)
    with pytest.raises(InvalidRequestError, match="bearer_token"):
        mcp_connection(ARN, headers={"Authorization": "Bearer x"}, **KEYS)
    with pytest.raises(InvalidRequestError, match="go together"):
        mcp_connection(ARN, aws_access_key_id=KEY)
    with pytest.raises(InvalidRequestError, match="region_name"):
        mcp_connection("https://tools.example.com/mcp", **KEYS)
    with pytest.raises(InvalidRequestError):
        mcp_connection(ARN, read_timeout=0, **KEYS)


def test_missing_credentials_fail_before_any_request(no_aws: None) -> None:
    with pytest.raises(AccessDeniedError, match="no AWS credentials"):
        mcp_connection(ARN)


def test_invocation_url_of_a_runtime_is_a_target_too(no_aws: None) -> None:
    connection = mcp_connection(URL, **KEYS)
    assert connection["url"] == URL
    assert "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id" in connection["headers"]
    assert parse_mcp_target(URL).region == "eu-west-1"


# --- what an MCP session raises ---------------------------------------------------------------


def group(*errors: Exception) -> BaseException:
    return ExceptionGroup("outer", [ExceptionGroup("inner", list(errors))])


REQUEST = httpx.Request("POST", URL, extensions={"timeout": {"connect": 2.0, "read": 5.0}})


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (group(ThrottlingError("Rate exceeded")), ThrottlingError),
        (group(httpx.ReadTimeout("timed out", request=REQUEST)), AgentCoreTimeoutError),
        (httpx.ConnectError("refused", request=REQUEST), ConnectError),
        (group(httpx.ConnectTimeout("slow", request=REQUEST)), ConnectError),
        (McpError(ErrorData(code=408, message="Timed out")), AgentCoreTimeoutError),
        (
            group(
                httpx.HTTPStatusError(
                    "403",
                    request=REQUEST,
                    response=httpx.Response(403, request=REQUEST),
                )
            ),
            AccessDeniedError,
        ),
    ],
)
def test_session_failures_become_typed_errors(raised: BaseException, expected: type) -> None:
    assert type(mcp_session_error(raised)) is expected


def test_a_read_timeout_names_the_seconds() -> None:
    error = mcp_session_error(httpx.ReadTimeout("timed out", request=REQUEST))
    assert "5s" in str(error)


def test_server_errors_are_not_the_packages() -> None:
    assert mcp_session_error(McpError(ErrorData(code=-32602, message="bad args"))) is None
    assert mcp_session_error(group(ValueError("bug"))) is None


def test_an_error_declaring_a_huge_body_is_judged_unread() -> None:
    answer = httpx.Response(
        429,
        headers={"x-amzn-errortype": "ThrottlingException", "content-length": str(1 << 30)},
        stream=httpx.ByteStream(b""),  # what would follow is never read
    )
    transport, sent = scripted([answer, ok()])
    auth = AgentCoreAuth.sigv4(creds(), "eu-west-1", retry_base_delay=0)
    with (
        httpx.Client(transport=transport, auth=auth) as client,
        pytest.raises(ThrottlingError),
    ):
        client.post(URL, content=INITIALIZE, headers=mcp_headers())
    assert len(sent) == 1  # not retried: a retry would make httpx read that body


def test_signed_headers_are_what_agentcore_reads() -> None:
    request = httpx.Request(
        "POST", URL, content=INITIALIZE,
        headers=mcp_headers(**{
            "Accept-Encoding": "gzip", "Connection": "keep-alive", "User-Agent": "x",
            "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": "s" * 40, "Mcp-Protocol-Version": "v",
        }),
    )  # fmt: skip
    signed = next(AgentCoreAuth.sigv4(creds(), "eu-west-1").sync_auth_flow(request))
    names = signed.headers["authorization"].split("SignedHeaders=")[1].split(",")[0]
    assert names == (
        "accept;content-type;host;mcp-protocol-version;x-amz-date;x-amz-security-token;"
        "x-amzn-bedrock-agentcore-runtime-session-id"
    )
