"""Where a call goes: a runtime ARN, a runtime id + account, or "bedrock/agentcore/<ARN>"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from agentcore_bridge.errors import InvalidTargetError

MODEL_PREFIX = "bedrock/agentcore/"
SERVICE_NAME = "bedrock-agentcore"

_ARN = re.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+)*):(?P<service>[^:]*):(?P<region>[^:]*):"
    r"(?P<account>[^:]*):(?P<resource>.*)",
    re.DOTALL,
)
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
_ACCOUNT = re.compile(r"\d{12}")
# A runtime id, an endpoint name: no name grammar enforced, only what cannot work in a URL path
# or a query value (whitespace, control characters, '/', '?', '#').
_TOKEN = re.compile(r"[^\s/?#\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class RuntimeTarget:
    """A resolved AgentCore runtime: what goes in the path, the query, and where to sign."""

    runtime: str
    """The full runtime ARN, or a bare runtime id (then ``account_id`` is set)."""
    region: str
    qualifier: str | None = None
    account_id: str | None = None
    partition: str = "aws"

    @property
    def is_arn(self) -> bool:
        return self.runtime.startswith("arn:")

    @property
    def runtime_id(self) -> str:
        return self.runtime.rsplit("/", 1)[-1] if self.is_arn else self.runtime

    def path(self, operation: str = "invocations") -> str:
        """The request path, with the ARN percent-encoded as a single segment."""
        return f"/runtimes/{quote(self.runtime, safe='')}/{operation}"

    def query(self) -> str:
        params: list[tuple[str, str]] = []
        if self.account_id is not None:
            params.append(("accountId", self.account_id))
        if self.qualifier is not None:
            params.append(("qualifier", self.qualifier))
        return urlencode(params, quote_via=quote)

    def path_and_query(self, operation: str = "invocations") -> str:
        query = self.query()
        return f"{self.path(operation)}?{query}" if query else self.path(operation)

    def with_qualifier(self, qualifier: str | None) -> RuntimeTarget:
        return RuntimeTarget(
            self.runtime,
            self.region,
            _check_qualifier(qualifier),
            self.account_id,
            self.partition,
        )


def parse_target(
    model: str,
    *,
    region: str | None = None,
    account_id: str | None = None,
    qualifier: str | None = None,
) -> RuntimeTarget:
    """Resolve a runtime ARN, ``bedrock/agentcore/<ARN>``, or a bare runtime id.

    The ARN's structure is checked (partition, service, region, 12-digit account, ``runtime/``
    plus a non-empty id); the runtime name grammar is not, since AgentCore itself accepts ids such
    as ``my-agent-runtime``. An endpoint ARN (``.../runtime-endpoint/<name>``) becomes the runtime
    ARN plus that qualifier. A bare id needs ``account_id`` and ``region``. An explicit ``region``
    that disagrees with the ARN's raises rather than signing for the wrong region.
    """
    if not isinstance(model, str) or not model.strip():
        raise InvalidTargetError(
            "no runtime given: pass a runtime ARN "
            "(arn:aws:bedrock-agentcore:<region>:<account>:runtime/<id>), "
            "'bedrock/agentcore/<ARN>', or a runtime id with account_id and region"
        )
    value = model.strip()
    if value.startswith(MODEL_PREFIX):
        value = value[len(MODEL_PREFIX) :]
    qualifier = _check_qualifier(qualifier)
    if region is not None:
        _check_region(region, "region")
    if value.startswith("arn:"):
        return _parse_arn(value, region=region, account_id=account_id, qualifier=qualifier)
    if _TOKEN.fullmatch(value) is None:
        raise InvalidTargetError(
            f"{value!r} is neither a runtime ARN nor a runtime id: "
            "a runtime id has no spaces, '/', '?' or '#'"
        )
    if account_id is None or region is None:
        raise InvalidTargetError(
            f"runtime id {value!r} needs account_id (12 digits) and region; "
            "or pass the full runtime ARN instead"
        )
    _check_account(account_id)
    return RuntimeTarget(value, region, qualifier, account_id)


def _parse_arn(
    arn: str, *, region: str | None, account_id: str | None, qualifier: str | None
) -> RuntimeTarget:
    match = _ARN.fullmatch(arn)
    if match is None:
        raise InvalidTargetError(
            f"{arn!r} is not a runtime ARN: expected "
            "arn:<partition>:bedrock-agentcore:<region>:<account>:runtime/<runtime-id>"
        )
    service, arn_region = match["service"], match["region"]
    account, resource = match["account"], match["resource"]
    if service != SERVICE_NAME:
        raise InvalidTargetError(
            f"ARN service is {service!r}, expected {SERVICE_NAME!r}: {arn!r} is not an "
            "AgentCore runtime"
        )
    _check_region(arn_region, "the ARN's region")
    _check_account(account)
    parts = resource.split("/")
    if len(parts) == 4 and parts[0] == "runtime" and parts[2] == "runtime-endpoint":
        endpoint = _check_qualifier(parts[3])
        if qualifier is not None and qualifier != endpoint:
            raise InvalidTargetError(
                f"qualifier {qualifier!r} disagrees with the endpoint {endpoint!r} in the ARN"
            )
        qualifier = endpoint
        parts = parts[:2]
    if len(parts) != 2 or parts[0] != "runtime" or _TOKEN.fullmatch(parts[1]) is None:
        raise InvalidTargetError(
            f"ARN resource is {resource!r}, expected 'runtime/<runtime-id>' with a non-empty id"
        )
    if region is not None and region != arn_region:
        raise InvalidTargetError(
            f"region {region!r} disagrees with the ARN's region {arn_region!r}: requests are "
            "signed for the runtime's own region; drop the region or fix the ARN"
        )
    if account_id is not None and account_id != account:
        raise InvalidTargetError(
            f"account_id {account_id!r} disagrees with the ARN's account {account!r}"
        )
    runtime_arn = (
        f"arn:{match['partition']}:{SERVICE_NAME}:{arn_region}:{account}:runtime/{parts[1]}"
    )
    return RuntimeTarget(runtime_arn, arn_region, qualifier, None, match["partition"])


def _check_region(region: str, what: str) -> None:
    if not isinstance(region, str) or _REGION.fullmatch(region) is None:
        raise InvalidTargetError(f"{what} {region!r} is not an AWS region name such as 'us-west-2'")


def _check_account(account_id: str) -> None:
    if not isinstance(account_id, str) or _ACCOUNT.fullmatch(account_id) is None:
        raise InvalidTargetError(f"account id {account_id!r} must be exactly 12 digits")


def _check_qualifier(qualifier: str | None) -> str | None:
    if qualifier is None:
        return None
    if not isinstance(qualifier, str) or _TOKEN.fullmatch(qualifier) is None:
        raise InvalidTargetError(
            f"qualifier {qualifier!r} must be a non-empty endpoint name or version "
            "without spaces, '/', '?' or '#'"
        )
    return qualifier
