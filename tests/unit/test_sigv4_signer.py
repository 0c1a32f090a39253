"""Our SigV4 signer against botocore's ``SigV4Auth``, byte for byte, over generated requests
(the local runtime's integration tests then check the same signatures end to end)."""

from __future__ import annotations

import string
from datetime import datetime
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agentcore_bridge.signing import SigV4Signer
from agentcore_bridge.transport import HttpRequest

REGIONS = ["us-west-2", "us-east-1", "eu-central-1", "cn-north-1", "us-gov-west-1"]
ENDPOINTS = [
    "https://bedrock-agentcore.{region}.amazonaws.com",
    "https://bedrock-agentcore.{region}.amazonaws.com:443",
    "https://bedrock-agentcore-fips.{region}.amazonaws.com",
    "http://127.0.0.1:54321",
    "http://localhost:80",
    "http://[::1]:8080",
    "https://Proxy.Example.COM:8443",
]
# header values: printable words joined by runs of spaces and tabs (SigV4 collapses the runs)
words = st.text(string.ascii_letters + string.digits + string.punctuation, min_size=1, max_size=8)
printable = st.builds(
    lambda parts, gaps: "".join(w + g for w, g in zip(parts, gaps, strict=False)).rstrip(),
    st.lists(words, min_size=1, max_size=5),
    st.lists(st.sampled_from([" ", "  ", " \t ", "\t"]), min_size=5, max_size=5),
)


def botocore_signature(
    creds: Credentials, region: str, url: str, headers: dict[str, str], body: bytes, stamp: str
) -> dict[str, str]:
    """botocore's own algorithm with the timestamp fixed (what ``add_auth`` does)."""
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    request.context["timestamp"] = stamp
    request.headers["X-Amz-Date"] = stamp
    if creds.token:
        request.headers["X-Amz-Security-Token"] = creds.token
    signer = SigV4Auth(creds, "bedrock-agentcore", region)
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    signed = signer.signed_headers(signer.headers_to_sign(request))
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={signer.scope(request)}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    return dict(request.headers.items())


@st.composite
def requests(draw: st.DrawFn) -> tuple[Credentials, str, str, dict[str, str], bytes, str]:
    region = draw(st.sampled_from(REGIONS))
    endpoint = draw(st.sampled_from(ENDPOINTS)).format(region=region)
    name = draw(st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,20}-[a-zA-Z0-9]{10}", fullmatch=True))
    arn = f"arn:aws:bedrock-agentcore:{region}:123456789012:runtime/{name}"
    operation = draw(st.sampled_from(["invocations", "stopruntimesession"]))
    url = f"{endpoint}/runtimes/{quote(arn, safe='')}/{operation}"
    qualifier = draw(st.none() | st.from_regex(r"[a-zA-Z0-9_]{1,20}", fullmatch=True))
    if qualifier:
        url += f"?qualifier={qualifier}"
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream, application/json",
        "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": draw(
            st.text(string.ascii_letters + string.digits + "-", min_size=33, max_size=60)
        ),
    }
    optional = {
        "X-Amzn-Bedrock-AgentCore-Runtime-User-Id": printable,
        "X-Amzn-Trace-Id": printable,  # excluded from signing, as botocore excludes it
        "traceparent": printable,
        "baggage": printable,
        "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant": printable,
        "x-amzn-bedrock-agentcore-runtime-custom-tenant": printable,  # a case-variant twin
        "Host": st.just(endpoint.split("://")[1]),
    }
    for header, values in optional.items():
        if draw(st.booleans()):
            headers[header] = draw(values)
    token = draw(st.none() | st.text(string.ascii_letters + string.digits + "/+=", min_size=20))
    creds = Credentials(
        draw(st.from_regex(r"A[KS]IA[A-Z0-9]{16}", fullmatch=True)),
        draw(st.text(string.ascii_letters + string.digits + "/+", min_size=40, max_size=40)),
        token,
    )
    body = draw(st.binary(max_size=300))
    moment = draw(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)))
    return creds, region, url, headers, body, moment.strftime("%Y%m%dT%H%M%SZ")


@settings(max_examples=400, deadline=None)
@given(request=requests())
@example(
    request=(
        Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
        "us-west-2",
        "https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/"
        "arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2Fa-AbCdEf1234"
        "/invocations?qualifier=DEFAULT",
        {
            "Content-Type": "application/json",
            "X-Amzn-Trace-Id": "  Root=1-abc   Parent=2  ",  # not signed
            "X-Amzn-Bedrock-AgentCore-Runtime-User-Id": " user  with   spaces ",  # signed
        },
        b'{"prompt": "hi"}',
        "20261125T201500Z",
    )
)
def test_the_signature_is_botocores(
    request: tuple[Credentials, str, str, dict[str, str], bytes, str],
) -> None:
    creds, region, url, headers, body, stamp = request
    expected = botocore_signature(creds, region, url, headers, body, stamp)
    signer = SigV4Signer(creds, region)
    assert signer.sign("POST", url, headers, body, timestamp=stamp) == expected
    # the cached signing key gives the same answer on the next call
    assert signer.sign("POST", url, headers, body, timestamp=stamp) == expected


def test_a_refreshed_secret_or_a_new_day_derives_a_new_key() -> None:
    url = "https://bedrock-agentcore.us-west-2.amazonaws.com/runtimes/x/invocations"
    creds = Credentials("AKIDEXAMPLE", "first-secret-0000000000000000000000000000")
    signer = SigV4Signer(creds, "us-west-2")
    for secret, stamp in (
        ("first-secret-0000000000000000000000000000", "20261125T235959Z"),
        ("first-secret-0000000000000000000000000000", "20261126T000000Z"),
        ("second-secret-000000000000000000000000000", "20261126T000001Z"),
    ):
        creds.secret_key = secret
        expected = botocore_signature(creds, "us-west-2", url, {}, b"{}", stamp)
        assert signer.sign("POST", url, {}, b"{}", timestamp=stamp) == expected


def test_the_signer_shows_no_secret() -> None:
    creds = Credentials("AKIDEXAMPLE", "a-secret-that-must-not-show-0000000000000")
    signer = SigV4Signer(creds, "us-west-2")
    signer.sign("POST", "https://h.example/runtimes/x/invocations", {}, b"", "20261125T000000Z")
    assert "a-secret" not in repr(signer) and "a-secret" not in str(signer)


def test_a_signed_request_shows_neither_its_headers_nor_its_body() -> None:
    request = HttpRequest(
        "POST", "https://h.example/runtimes/x/invocations",
        {"Authorization": "Bearer a-token-that-must-not-show"}, b'{"prompt": "private words"}',
    )  # fmt: skip
    assert repr(request) == (
        "HttpRequest(method='POST', url='https://h.example/runtimes/x/invocations')"
    )
