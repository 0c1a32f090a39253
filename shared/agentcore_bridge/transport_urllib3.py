"""The only I/O in the core: signing, and signed HTTP over urllib3 (sync); the aiohttp (async)
shell is in ``transport_async``, imported on first async use (aiohttp costs ~0.1 s to import).

Both shells do the same few things (sign, send, classify failures, hand on body bytes as they
arrive) and nothing else: payloads, decoding, retries and results live elsewhere and are shared.
urllib3 was chosen for the sync side by measurement (benchmarks/sync_http_choice.py: 213 us of
client CPU per call against 371 us for httpx, first-event latency 0.58 ms against 0.66 ms).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import urllib3
from botocore.auth import SIGNED_HEADERS_BLACKLIST
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.utils import normalize_url_path

from agentcore_bridge.errors import (
    AccessDeniedError,
    AgentCoreTimeoutError,
    ConnectError,
    StreamInterruptedError,
    TransportError,
)
from agentcore_bridge.targets import SERVICE_NAME

logger = logging.getLogger(__name__)

READ_SIZE = 65536


# --- auth ---------------------------------------------------------------------------------


class SigV4Signer:
    """SigV4 for AgentCore's requests, with credentials from a botocore credential source.

    ``credentials`` may be refreshable (SSO, roles, IMDS): frozen credentials are taken per
    request. The algorithm is botocore's, step for step (the same excluded headers, path
    double-encoding, query and header canonicalisation; tests compare its output with
    botocore's ``SigV4Auth`` byte for byte), written over plain strings: botocore's
    ``AWSRequest``/``HTTPHeaders`` machinery made signing ~11% of a call's client CPU in an
    async fan-out. The signing key is derived once per day and secret. Nothing is logged
    (botocore's ``add_auth`` logs the canonical request, session token included, at DEBUG).
    """

    def __init__(self, credentials: Credentials, region: str) -> None:
        self._credentials = credentials
        self.region = region
        self._key: tuple[str, str, bytes] | None = None

    def _signing_key(self, secret: str, date: str) -> bytes:
        cached = self._key
        if cached is not None and cached[0] == secret and cached[1] == date:
            return cached[2]
        key = _hmac(f"AWS4{secret}".encode(), date)
        for part in (self.region, SERVICE_NAME, "aws4_request"):
            key = _hmac(key, part)
        self._key = (secret, date, key)
        return key

    def sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes,
        timestamp: str | None = None,
    ) -> dict[str, str]:  # fmt: skip
        frozen: ReadOnlyCredentials = self._credentials.get_frozen_credentials()
        amz_date = timestamp or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        signed = {**headers, "X-Amz-Date": amz_date}
        if frozen.token:
            signed["X-Amz-Security-Token"] = frozen.token
        parts = urlsplit(url)
        canonical_headers: dict[str, str] = {}
        for name, value in signed.items():
            low = name.lower()
            if low in SIGNED_HEADERS_BLACKLIST:
                continue
            trimmed = " ".join(value.split())
            previous = canonical_headers.get(low)
            canonical_headers[low] = trimmed if previous is None else f"{previous},{trimmed}"
        if "host" not in canonical_headers:
            canonical_headers["host"] = _host_header(parts.scheme, parts.hostname, parts.port)
        names = sorted(canonical_headers)
        signed_names = ";".join(names)
        canonical = "\n".join((
            method.upper(),
            quote(normalize_url_path(parts.path), safe="/~"),
            _canonical_query(parts.query),
            "".join(f"{name}:{canonical_headers[name]}\n" for name in names),
            signed_names,
            hashlib.sha256(body).hexdigest(),
        ))  # fmt: skip
        scope = f"{amz_date[:8]}/{self.region}/{SERVICE_NAME}/aws4_request"
        to_sign = (
            f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n"
            f"{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        key = self._signing_key(frozen.secret_key or "", amz_date[:8])
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        signed["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={frozen.access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )
        return signed

    def __repr__(self) -> str:
        return f"SigV4Signer(region={self.region!r})"


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _host_header(scheme: str, host: str | None, port: int | None) -> str:
    """What botocore signs as ``host``: lower-case, IPv6 in brackets, default port left out."""
    name = host or ""
    if ":" in name:
        name = f"[{name}]"
    if port is not None and port != {"http": 80, "https": 443}.get(scheme):
        name = f"{name}:{port}"
    return name


def _canonical_query(query: str) -> str:
    """The query's ``key=value`` pairs sorted, as they appear (they are already encoded)."""
    if not query:
        return ""
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&"))
    return "&".join(f"{key}={value}" for key, value in pairs)


class BearerSigner:
    """``Authorization: Bearer <token>`` for runtimes configured with a JWT (OAuth) authorizer."""

    def __init__(self, token: str) -> None:
        self._token = token

    def sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        return {**headers, "Authorization": f"Bearer {self._token}"}

    def __repr__(self) -> str:
        return "BearerSigner(token='***')"


Signer = SigV4Signer | BearerSigner


# --- request / response -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timeouts:
    """``connect``: to open a connection; ``read``: the longest silence between two reads (a
    non-streaming agent sends nothing until it is done, so this covers its whole run);
    ``total``: a deadline for the whole call, streams included (None: no deadline)."""

    connect: float = 10.0
    read: float = 900.0
    total: float | None = None


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    """Absolute URL whose path is already percent-encoded (the ARN as one segment)."""
    headers: Mapping[str, str] = field(repr=False)
    """Signed: they carry the Authorization header (a bearer token, for OAuth runtimes)."""
    body: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ResponseHead:
    status: int
    headers: Mapping[str, str]
    """Lower-case names."""

    def get(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def ca_bundle(verify: bool | str | None) -> str | None:
    if isinstance(verify, str):
        return verify
    return os.environ.get("AWS_CA_BUNDLE") or None


def deadline_left(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


def timeout_error(what: str) -> AgentCoreTimeoutError:
    return AgentCoreTimeoutError(f"{what}; raise the timeout if the agent needs longer")


# --- proxies ------------------------------------------------------------------------------


class ProxyTable:
    """``HTTP(S)_PROXY``/``NO_PROXY`` read once (scanning the environment costs ~0.1 ms, and
    aiohttp's ``trust_env`` does it in a worker thread on every request, netrc lookup included).
    """

    def __init__(self) -> None:
        self._proxies = urllib.request.getproxies()
        self._bypass: dict[str, bool] = {}

    def proxy_for(self, scheme: str, host: str) -> str | None:
        proxy = self._proxies.get(scheme)
        if not proxy:
            return None
        if host not in self._bypass:
            self._bypass[host] = bool(urllib.request.proxy_bypass(host))
        return None if self._bypass[host] else proxy


def split_proxy(proxy: str) -> tuple[str, dict[str, str]]:
    """``http://user:pass@host:port`` -> the URL without credentials, and the
    ``Proxy-Authorization`` header that carries them (to the proxy only)."""
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if parts.username is None:
        return urlunsplit(parts), {}
    user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    token = base64.b64encode(user_pass.encode()).decode()
    bare = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return urlunsplit(bare), {"Proxy-Authorization": f"Basic {token}"}


# --- sync: urllib3 ----------------------------------------------------------------------------


class SyncResponse:
    """A response whose body is read chunk by chunk, each chunk handed on as soon as it arrives."""

    def __init__(
        self,
        head: ResponseHead,
        raw: urllib3.BaseHTTPResponse,
        timeouts: Timeouts,
        deadline: float | None,
    ) -> None:
        self.head = head
        self._raw = raw
        self._timeouts = timeouts
        self._deadline = deadline
        self._exhausted = False
        self._closed = False

    def chunks(self) -> Iterator[bytes]:
        connection = getattr(self._raw, "connection", None)
        sock: socket.socket | None = getattr(connection, "sock", None)
        applied: float | None = None
        try:
            while True:
                left = deadline_left(self._deadline)
                if left is not None and left <= 0:
                    raise timeout_error("the call's total deadline passed while reading")
                # An idle read may not outlast the deadline either.
                read = self._timeouts.read if left is None else min(left, self._timeouts.read)
                if sock is not None and read != applied:
                    sock.settimeout(read)
                    applied = read
                try:
                    chunk = self._raw.read1(READ_SIZE)
                except (TimeoutError, urllib3.exceptions.ReadTimeoutError) as exc:
                    raise timeout_error(
                        f"no data from the agent for {self._timeouts.read:g}s, or the deadline "
                        "passed"
                    ) from exc
                except (urllib3.exceptions.HTTPError, OSError) as exc:
                    raise StreamInterruptedError(
                        "the connection broke mid-response: the answer is incomplete"
                    ) from exc
                if not chunk:
                    self._exhausted = True
                    return
                yield chunk
        finally:
            self.close()

    def read_all(self, limit: int = 1 << 20) -> bytes:
        data = bytearray()
        for chunk in self.chunks():
            data += chunk
            if len(data) >= limit:
                break
        return bytes(data)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._exhausted:
            self._raw.close()  # a half-read connection cannot be reused: drop it
        self._raw.release_conn()


class SyncTransport:
    """urllib3 pools; ``HTTPS_PROXY``/``NO_PROXY`` and ``AWS_CA_BUNDLE`` honoured."""

    def __init__(self, *, verify: bool | str | None = None, max_connections: int = 64) -> None:
        ca = ca_bundle(verify)
        self._pool_kwargs: dict[str, Any] = {"maxsize": max_connections, "retries": False}
        if verify is False:
            self._pool_kwargs["cert_reqs"] = "CERT_NONE"
        elif ca:
            self._pool_kwargs["ca_certs"] = ca
        self._direct = urllib3.PoolManager(**self._pool_kwargs)
        self._proxied: dict[str, urllib3.ProxyManager] = {}
        self._proxies = ProxyTable()
        self._timeout_cache: tuple[tuple[float, float], urllib3.Timeout] | None = None

    def _opener(self, url: str) -> tuple[Callable[..., urllib3.BaseHTTPResponse], str]:
        """What sends to ``url``, and the URL to give it: a direct connection pool takes the
        path (no second parse of the whole URL per call); a proxy takes the absolute URL."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        proxy = self._proxies.proxy_for(parts.scheme, host)
        if proxy:
            if proxy not in self._proxied:
                proxy_url, proxy_headers = split_proxy(proxy)
                self._proxied[proxy] = urllib3.ProxyManager(
                    proxy_url, proxy_headers=proxy_headers, **self._pool_kwargs
                )
            return self._proxied[proxy].urlopen, url
        pool = self._direct.connection_from_host(host, parts.port, parts.scheme)
        path = f"{parts.path}?{parts.query}" if parts.query else parts.path
        return pool.urlopen, path or "/"

    def send(
        self, request: HttpRequest, timeouts: Timeouts, deadline: float | None
    ) -> SyncResponse:
        left = deadline_left(deadline)
        read = timeouts.read if left is None else max(0.001, min(left, timeouts.read))
        try:
            urlopen, url = self._opener(request.url)
            raw = urlopen(
                request.method,
                url,
                body=request.body,
                headers=dict(request.headers),
                timeout=self._timeout(timeouts.connect, read),
                preload_content=False,
                redirect=False,
                retries=False,
            )
        except urllib3.exceptions.ConnectTimeoutError as exc:
            raise ConnectError(f"could not connect within {timeouts.connect:g}s: {exc}") from exc
        except urllib3.exceptions.NewConnectionError as exc:
            raise ConnectError(
                f"could not connect to {urlsplit(request.url).netloc}: {exc}"
            ) from exc
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise timeout_error(f"no response within {read:g}s") from exc
        except urllib3.exceptions.ProxyError as exc:
            raise ConnectError(f"the proxy refused or failed: {exc}") from exc
        except urllib3.exceptions.SSLError as exc:
            raise TransportError(f"TLS failed: {exc}") from exc
        except (urllib3.exceptions.ProtocolError, urllib3.exceptions.HTTPError, OSError) as exc:
            # The request was sent: the agent may be running it. Never retried.
            raise StreamInterruptedError(
                f"the connection broke before the response headers arrived: {exc}"
            ) from exc
        head = ResponseHead(raw.status, {k.lower(): v for k, v in raw.headers.items()})
        return SyncResponse(head, raw, timeouts, deadline)

    def _timeout(self, connect: float, read: float) -> urllib3.Timeout:
        cached = self._timeout_cache
        if cached is None or cached[0] != (connect, read):
            timeout = urllib3.Timeout(connect=connect, read=read)
            cached = self._timeout_cache = ((connect, read), timeout)
        return cached[1]

    def close(self) -> None:
        self._direct.clear()
        for manager in self._proxied.values():
            manager.clear()
        self._proxied.clear()


def no_credentials_error() -> AccessDeniedError:
    return AccessDeniedError(
        "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile "
        "(AWS_PROFILE or credentials_profile_name), or pass aws_access_key_id and "
        "aws_secret_access_key; OAuth runtimes take bearer_token instead"
    )
