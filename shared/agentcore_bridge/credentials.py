"""Where a caller's credentials, bearer token and AgentCore endpoint come from: boto3's credential
chain and endpoint resolver, behind a few functions any entry point of the package can share."""

from __future__ import annotations

import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.credentials import Credentials

from agentcore_bridge.environment import getenv
from agentcore_bridge.errors import InvalidRequestError
from agentcore_bridge.signing import no_credentials_error
from agentcore_bridge.targets import SERVICE_NAME

BEARER_TOKEN_ENV = "AGENTCORE_BEARER_TOKEN"  # noqa: S105 - a variable name


def static_credentials(
    aws_access_key_id: str | None,
    aws_secret_access_key: str | None,
    aws_session_token: str | None = None,
) -> Credentials | None:
    """Credentials given as arguments, or None to use the chain; half a key pair is refused."""
    if (aws_access_key_id is None) != (aws_secret_access_key is None):
        raise InvalidRequestError(
            "aws_access_key_id and aws_secret_access_key go together: give both or neither"
        )
    if aws_access_key_id is None or aws_secret_access_key is None:
        if aws_session_token is not None:
            raise InvalidRequestError(
                "aws_session_token needs aws_access_key_id and aws_secret_access_key"
            )
        return None
    return Credentials(aws_access_key_id, aws_secret_access_key, aws_session_token)


def botocore_session(profile_name: str | None = None) -> botocore.session.Session:
    """A botocore session for ``profile_name`` (None: AWS_PROFILE or the default profile)."""
    return botocore.session.Session(profile=profile_name)


def resolve_credentials(
    session: botocore.session.Session, given: Credentials | None = None
) -> Credentials:
    """``given``, else boto3's chain (environment, profile, SSO, container and instance roles).

    The chain's result may be refreshable: keep the object and take frozen credentials from it
    per request (``SigV4Signer`` does), so a rotated role is picked up without a new client.
    Raises AccessDeniedError when nothing is configured, before any request is made.
    """
    credentials = given or session.get_credentials()
    if credentials is None:
        raise no_credentials_error()
    return credentials


def resolve_bearer_token(given: str | None) -> str | None:
    """An OAuth bearer token: the one given, else ``AGENTCORE_BEARER_TOKEN``, else None."""
    return given or getenv(BEARER_TOKEN_ENV) or None


def resolve_endpoint(session: botocore.session.Session, region: str) -> str:
    """The data-plane endpoint for ``region`` as boto3 resolves it, without a trailing slash.

    ``AWS_ENDPOINT_URL_BEDROCK_AGENTCORE``, ``AWS_ENDPOINT_URL``, endpoint settings in the
    config file, FIPS, dual-stack and the partitions (China, GovCloud) all apply. Making the
    client reads no credentials and sends nothing.
    """
    # Unsigned: the client only answers where it would send, so no credential lookup (which may
    # wait on instance metadata) is made for it.
    client = session.create_client(
        SERVICE_NAME, region_name=region, config=Config(signature_version=UNSIGNED)
    )
    try:
        return str(client.meta.endpoint_url).rstrip("/")
    finally:
        client.close()


def default_region(session: botocore.session.Session) -> str | None:
    """The region the session is configured with (``AWS_DEFAULT_REGION`` or the profile's
    ``region``), or None."""
    region = session.get_config_variable("region")
    return str(region) if region else None
