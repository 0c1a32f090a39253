"""LiteLLM's AWS auth keys for a deployment: role assumption through STS, refreshed as needed.

``aws_role_name`` (a role ARN, as LiteLLM names it) is assumed with ``sts:AssumeRole`` using the
deployment's source credentials (``aws_access_key_id``/``aws_secret_access_key``/
``aws_session_token``, else ``aws_profile_name``, else botocore's default chain), with
``aws_session_name`` as the role session name and ``aws_external_id`` as the external id. With
``aws_web_identity_token`` the role is assumed with ``sts:AssumeRoleWithWebIdentity`` instead
(no source credentials; the token is the value given, or read from the file it names at every
refresh, as ``AWS_WEB_IDENTITY_TOKEN_FILE`` works). ``aws_sts_endpoint`` is the STS endpoint
(default: botocore's regional endpoint for ``aws_region_name``).

The credentials are botocore's own ``DeferredRefreshableCredentials`` over its assume-role
fetchers: nothing is fetched until the first call, and a fresh set is fetched before the current
one expires. They reach ``AgentCoreClient`` through a botocore session whose credential chain
holds only them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    AssumeRoleWithWebIdentityCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import BotoCoreError, ClientError

from agentcore_bridge.errors import AccessDeniedError

DEFAULT_SESSION_NAME = "agentcore-proxy"
ROLE_PARAMS = (
    "aws_role_name",
    "aws_session_name",
    "aws_external_id",
    "aws_web_identity_token",
    "aws_sts_endpoint",
)
"""The ``litellm_params`` keys that describe role assumption (``aws_profile_name`` and the key
pair are the source credentials, declared with the client settings)."""


@dataclass(frozen=True)
class RoleAssumption:
    """How one deployment assumes its role (from its ``litellm_params``)."""

    role_arn: str
    session_name: str = DEFAULT_SESSION_NAME
    external_id: str | None = None
    web_identity_token: str | None = None
    sts_endpoint: str | None = None
    region: str | None = None

    def __repr__(self) -> str:
        token = None if self.web_identity_token is None else "***"
        return (
            f"RoleAssumption(role_arn={self.role_arn!r}, session_name={self.session_name!r}, "
            f"web_identity_token={token!r}, sts_endpoint={self.sts_endpoint!r})"
        )

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RoleAssumption | None:
        """The assumption ``params`` describe, None without ``aws_role_name``; ValueError when a
        role key is given without the role."""
        role = params.get("aws_role_name")
        if not role:
            given = [key for key in ROLE_PARAMS if params.get(key) is not None]
            if given:
                raise ValueError(f"{given} need aws_role_name (the ARN of the role to assume)")
            return None
        for key in (*ROLE_PARAMS, "aws_region_name"):
            value = params.get(key)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{key} must be a string")
        return cls(
            role_arn=role,
            session_name=params.get("aws_session_name") or DEFAULT_SESSION_NAME,
            external_id=params.get("aws_external_id"),
            web_identity_token=params.get("aws_web_identity_token"),
            sts_endpoint=params.get("aws_sts_endpoint"),
            region=params.get("aws_region_name"),
        )


class _FixedCredentialProvider(CredentialProvider):
    """A credential chain of one: the assumed role's refreshable credentials."""

    METHOD = "assume-role"
    CANONICAL_NAME = "agentcore-proxy-assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


def assumed_role_session(
    assumption: RoleAssumption,
    *,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
    profile_name: str | None = None,
) -> botocore.session.Session:
    """A botocore session whose credentials are ``assumption``'s role, refreshed as they near
    expiry. The source credentials (for ``AssumeRole``) are the key pair when given, else the
    profile's, else botocore's default chain; ``AssumeRoleWithWebIdentity`` needs none."""
    source_session = botocore.session.Session(profile=profile_name)
    client_creator: Callable[..., Any] = functools.partial(
        source_session.create_client,
        region_name=assumption.region,
        endpoint_url=assumption.sts_endpoint,
    )
    extra: dict[str, Any] = {"RoleSessionName": assumption.session_name}
    fetcher: AssumeRoleCredentialFetcher | AssumeRoleWithWebIdentityCredentialFetcher
    if assumption.web_identity_token is not None:
        fetcher = AssumeRoleWithWebIdentityCredentialFetcher(
            client_creator,
            _token_loader(assumption.web_identity_token),
            assumption.role_arn,
            extra_args=extra,
        )
    else:
        if assumption.external_id is not None:
            extra["ExternalId"] = assumption.external_id
        if access_key_id is not None and secret_access_key is not None:
            source: Credentials | None = Credentials(
                access_key_id, secret_access_key, session_token
            )
        else:
            source = source_session.get_credentials()
        if source is None:
            raise ValueError(
                "aws_role_name needs source credentials to call sts:AssumeRole: give "
                "aws_access_key_id/aws_secret_access_key or aws_profile_name, or configure "
                "the default AWS credential chain (or give aws_web_identity_token)"
            )
        fetcher = AssumeRoleCredentialFetcher(
            client_creator, source, assumption.role_arn, extra_args=extra
        )
    credentials = DeferredRefreshableCredentials(
        refresh_using=_reported(fetcher.fetch_credentials, assumption.role_arn),
        method="assume-role",
    )
    session = botocore.session.Session(profile=profile_name)
    session.register_component(
        "credential_provider", CredentialResolver([_FixedCredentialProvider(credentials)])
    )
    return session


def _reported(fetch: Callable[[], dict[str, Any]], role_arn: str) -> Callable[[], dict[str, Any]]:
    """``fetch``, with STS's refusals as AccessDeniedError: the proxy then answers the call
    that needed the credentials with an OpenAI-shaped 502, not a crash."""

    def fetch_or_explain() -> dict[str, Any]:
        try:
            return fetch()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise AccessDeniedError(
                f"assuming the role {role_arn} failed: {error.get('Code')}: {error.get('Message')}"
            ) from None
        except BotoCoreError as exc:
            raise AccessDeniedError(f"assuming the role {role_arn} failed: {exc}") from None

    return fetch_or_explain


def _token_loader(token: str) -> Callable[[], str]:
    """The web identity token: the value, or the content of the file an absolute path names
    (read at every refresh: such files are rotated)."""
    if os.path.isabs(token) and os.path.isfile(token):

        def read() -> str:
            with open(token, encoding="utf-8") as file:
                return file.read().strip()

        return read
    return lambda: token
