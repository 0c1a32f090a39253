"""Proxy settings: read once, credentials split off the proxy URL into Proxy-Authorization."""

from __future__ import annotations

import base64

import pytest

from agentcore_bridge.transport import ProxyTable, split_proxy


def basic(user_pass: bytes) -> dict[str, str]:
    return {"Proxy-Authorization": "Basic " + base64.b64encode(user_pass).decode()}


@pytest.mark.parametrize(
    ("proxy", "url", "headers"),
    [
        ("http://proxy.example:3128", "http://proxy.example:3128", {}),
        ("proxy.example:3128", "http://proxy.example:3128", {}),
        ("http://me:secret@proxy.example:3128", "http://proxy.example:3128", basic(b"me:secret")),
        # percent-encoded credentials are decoded before they are encoded again
        ("http://a%40b:p%3Aw@proxy.example", "http://proxy.example", basic(b"a@b:p:w")),
        ("http://only-user@proxy.example", "http://proxy.example", basic(b"only-user:")),
    ],
)
def test_split_proxy(proxy: str, url: str, headers: dict[str, str]) -> None:
    assert split_proxy(proxy) == (url, headers)


def test_the_table_is_read_once_and_honours_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    table = ProxyTable()
    monkeypatch.setenv("HTTPS_PROXY", "http://changed.example:1")  # read once: not seen
    assert table.proxy_for("https", "bedrock-agentcore.us-west-2.amazonaws.com") == (
        "http://proxy.example:3128"
    )
    assert table.proxy_for("https", "internal.example") is None
    assert table.proxy_for("http", "bedrock-agentcore.us-west-2.amazonaws.com") is None
