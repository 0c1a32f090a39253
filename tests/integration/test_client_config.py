"""Where credentials, endpoints, proxies and CA bundles come from: boto3's chain and the env."""

from __future__ import annotations

import asyncio
import base64
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from agentcore_bridge import AgentCoreClient, ConnectError, TransportError
from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import json_answer

ARN = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/json-answer"
AWS_ENV = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE",
    "AWS_USE_FIPS_ENDPOINT", "AWS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
    "https_proxy", "NO_PROXY", "no_proxy", "AWS_REGION", "AWS_DEFAULT_REGION",
)  # fmt: skip


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ambient AWS or proxy configuration; config files in tmp_path."""
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return tmp_path


@pytest.fixture(scope="module")
def local() -> Iterator[LocalRuntime]:
    with LocalRuntime() as runtime:
        assert runtime.add_agent("json-answer", json_answer.app) == ARN
        yield runtime


def answer(client: AgentCoreClient) -> str:
    try:
        return client.invoke("hi").text
    finally:
        client.close()


EXPECTED = "You asked: hi. The answer is 42."


async def answer_async(client: AgentCoreClient) -> str:
    try:
        return (await client.ainvoke("hi")).text
    finally:
        await client.aclose()


def test_endpoint_and_keys_from_the_environment(
    local: LocalRuntime, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in local.environment().items():
        monkeypatch.setenv(key, value)
    assert answer(AgentCoreClient(ARN)) == EXPECTED


def test_named_profile(
    local: LocalRuntime, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / "credentials").write_text(
        f"[dev]\naws_access_key_id = {local.credentials.access_key_id}\n"
        f"aws_secret_access_key = {local.credentials.secret_access_key}\n"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", local.endpoint_url)
    assert answer(AgentCoreClient(ARN, profile_name="dev")) == EXPECTED
    with pytest.raises(Exception, match="could not be found"):
        AgentCoreClient(ARN, profile_name="nope").invoke("hi")


def test_refreshable_credentials_from_credential_process(
    local: LocalRuntime, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # credential_process gives botocore RefreshableCredentials with an expiry, as SSO and roles do.
    script = clean_env / "creds.py"
    expiry = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    script.write_text(textwrap.dedent(f"""
        import json
        print(json.dumps({{"Version": 1, "AccessKeyId": {local.credentials.access_key_id!r},
                          "SecretAccessKey": {local.credentials.secret_access_key!r},
                          "Expiration": {expiry!r}}}))
    """))  # fmt: skip
    (clean_env / "config").write_text(
        f"[profile proc]\ncredential_process = {sys.executable} {script}\n"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENTCORE", local.endpoint_url)
    client = AgentCoreClient(ARN, profile_name="proc")
    assert answer(client) == EXPECTED
    assert type(client._credentials).__name__ == "RefreshableCredentials"


def test_no_credentials_is_a_typed_error_before_sending(
    local: LocalRuntime, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    before = len(local.invocations)
    with pytest.raises(Exception, match="no AWS credentials found") as info:
        AgentCoreClient(ARN, endpoint_url=local.endpoint_url).invoke("hi")
    assert type(info.value).__name__ == "AccessDeniedError"
    assert len(local.invocations) == before


@pytest.mark.parametrize(
    ("runtime", "env", "expected"),
    [
        (ARN, {}, "https://bedrock-agentcore.us-west-2.amazonaws.com"),
        (ARN.replace("us-west-2", "us-east-1"), {"AWS_USE_FIPS_ENDPOINT": "true"},
         "https://bedrock-agentcore-fips.us-east-1.amazonaws.com"),
        ("arn:aws-cn:bedrock-agentcore:cn-north-1:123456789012:runtime/x", {},
         "https://bedrock-agentcore.cn-north-1.amazonaws.com.cn"),
        (ARN, {"AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": "http://127.0.0.1:9"}, "http://127.0.0.1:9"),
    ],
)  # fmt: skip
def test_endpoint_resolution_is_boto3s(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, runtime: str, env: dict[str, str],
    expected: str,
) -> None:  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    call = AgentCoreClient(runtime).prepare("hi")
    assert call.url.startswith(expected + "/runtimes/arn%3Aaws")
    explicit = AgentCoreClient(runtime, endpoint_url="https://example.test").prepare("hi")
    assert explicit.url.startswith("https://example.test/runtimes/")


class CountingProxy:
    """A minimal HTTP forward proxy on 127.0.0.1 (absolute-URI requests), counting requests."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.proxy_authorizations: list[str | None] = []
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0)
        )
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ")
                self.requests.append(target)
                self.proxy_authorizations.append(next(
                    (line.split(":", 1)[1].strip() for line in lines
                     if line.lower().startswith("proxy-authorization:")), None,
                ))  # fmt: skip
                host_port = target.split("/")[2]
                host, port = host_port.rsplit(":", 1)
                length = next(
                    (int(line.split(":", 1)[1]) for line in lines
                     if line.lower().startswith("content-length:")), 0,
                )  # fmt: skip
                body = await reader.readexactly(length)
                path = "/" + target.split("/", 3)[3]
                upstream_r, upstream_w = await asyncio.open_connection(host, int(port))
                kept = [line for line in lines[1:] if line and not line.lower().startswith(
                    ("proxy-", "connection:", "keep-alive:"))]  # fmt: skip
                request = [f"{method} {path} {version}", *kept, "Connection: close", "", ""]
                upstream_w.write("\r\n".join(request).encode("latin-1") + body)
                await upstream_w.drain()
                response = await upstream_r.read()
                upstream_w.close()
                writer.write(response)
                await writer.drain()
                writer.close()
                return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def proxy() -> Iterator[CountingProxy]:
    server = CountingProxy()
    yield server
    server.close()


def make_client(local: LocalRuntime, **kwargs: Any) -> AgentCoreClient:
    return AgentCoreClient(
        ARN,
        endpoint_url=local.endpoint_url,
        aws_access_key_id=local.credentials.access_key_id,
        aws_secret_access_key=local.credentials.secret_access_key,
        **kwargs,
    )


def test_http_proxy_and_no_proxy_sync_and_async(
    local: LocalRuntime, clean_env: Path, monkeypatch: pytest.MonkeyPatch, proxy: CountingProxy
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    assert answer(make_client(local)) == EXPECTED

    assert asyncio.run(answer_async(make_client(local))) == EXPECTED
    assert len(proxy.requests) == 2
    assert all(r.startswith(local.endpoint_url + "/runtimes/arn%3Aaws") for r in proxy.requests)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert answer(make_client(local)) == EXPECTED
    assert asyncio.run(answer_async(make_client(local))) == EXPECTED
    assert len(proxy.requests) == 2  # bypassed


def test_proxy_credentials_in_the_proxy_url_are_sent_to_the_proxy_only(
    local: LocalRuntime, clean_env: Path, monkeypatch: pytest.MonkeyPatch, proxy: CountingProxy
) -> None:
    user_url = proxy.url.replace("http://", "http://proxy-user:proxy-pass@")
    monkeypatch.setenv("HTTP_PROXY", user_url)
    assert answer(make_client(local)) == EXPECTED
    assert asyncio.run(answer_async(make_client(local))) == EXPECTED
    expected = "Basic " + base64.b64encode(b"proxy-user:proxy-pass").decode()
    assert proxy.proxy_authorizations == [expected, expected]
    seen = local.invocations[-1]
    assert seen.status == 200  # the proxy's credentials did not replace the SigV4 signature


def test_a_netrc_entry_for_the_endpoint_changes_nothing(
    local: LocalRuntime, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiohttp's trust_env would read ~/.netrc and then refuse our own Authorization header."""
    netrc = clean_env / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password something\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(clean_env))
    assert answer(make_client(local)) == EXPECTED
    assert asyncio.run(answer_async(make_client(local))) == EXPECTED
    assert local.invocations[-1].status == 200


@pytest.fixture(scope="module")
def tls_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRuntime, Path]]:
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(folder / "server.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    with LocalRuntime(ssl_certfile=str(folder / "server.pem"), ssl_keyfile=str(folder / "server.pem")) as runtime:  # fmt: skip
        runtime.add_agent("json-answer", json_answer.app)
        yield runtime, folder / "ca.pem"


def test_aws_ca_bundle_is_honoured_sync_and_async(
    tls_runtime: tuple[LocalRuntime, Path], clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local, ca = tls_runtime
    assert local.endpoint_url.startswith("https://")
    for run in (
        lambda: make_client(local).invoke("hi"),
        lambda: asyncio.run(make_client(local).ainvoke("hi")),
    ):
        with pytest.raises(TransportError, match="TLS failed") as info:  # unknown CA: refused
            run()
        assert not isinstance(info.value, ConnectError)  # a TLS failure is not retried
    monkeypatch.setenv("AWS_CA_BUNDLE", str(ca))
    assert answer(make_client(local)) == EXPECTED

    assert asyncio.run(answer_async(make_client(local))) == EXPECTED
