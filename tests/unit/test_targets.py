"""Targets: ARN, bedrock/agentcore/<ARN>, runtime id + account -> region, qualifier, path."""

import pytest

from agentcore_bridge.errors import InvalidTargetError
from agentcore_bridge.targets import parse_target

SEED_ARN = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my-agent-runtime"
GENERATED_ARN = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my_agent-AbCdEf1234"


def test_seed_model_string_resolves_region_and_encoded_path() -> None:
    target = parse_target(f"bedrock/agentcore/{SEED_ARN}", qualifier="production")
    assert target.runtime == SEED_ARN
    assert target.region == "us-west-2"
    assert target.qualifier == "production"
    assert target.path() == (
        "/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2F"
        "my-agent-runtime/invocations"
    )
    assert target.path_and_query().endswith("/invocations?qualifier=production")


def test_generated_runtime_arn_path_matches_agentcore_docs() -> None:
    target = parse_target(GENERATED_ARN)
    assert target.path() == (
        "/runtimes/arn%3Aaws%3Abedrock-agentcore%3Aus-west-2%3A123456789012%3Aruntime%2F"
        "my_agent-AbCdEf1234/invocations"
    )
    assert target.query() == ""
    assert target.runtime_id == "my_agent-AbCdEf1234"
    assert target.path("stopruntimesession").endswith("/stopruntimesession")


@pytest.mark.parametrize(
    ("arn", "region", "partition"),
    [
        (
            "arn:aws-cn:bedrock-agentcore:cn-north-1:123456789012:runtime/a-b",
            "cn-north-1",
            "aws-cn",
        ),
        (
            "arn:aws-us-gov:bedrock-agentcore:us-gov-west-1:123456789012:runtime/x",
            "us-gov-west-1",
            "aws-us-gov",
        ),
        (
            "arn:aws:bedrock-agentcore:eu-central-1:000000000000:runtime/Agent_1",
            "eu-central-1",
            "aws",
        ),
    ],
)
def test_partitions_and_regions(arn: str, region: str, partition: str) -> None:
    target = parse_target(arn)
    assert (target.region, target.partition) == (region, partition)


def test_endpoint_arn_becomes_runtime_arn_plus_qualifier() -> None:
    target = parse_target(f"{SEED_ARN}/runtime-endpoint/prod")
    assert target.runtime == SEED_ARN
    assert target.qualifier == "prod"
    with pytest.raises(InvalidTargetError, match="disagrees with the endpoint"):
        parse_target(f"{SEED_ARN}/runtime-endpoint/prod", qualifier="dev")


def test_explicit_region_must_agree_with_arn() -> None:
    assert parse_target(SEED_ARN, region="us-west-2").region == "us-west-2"
    with pytest.raises(InvalidTargetError, match="disagrees with the ARN's region 'us-west-2'"):
        parse_target(SEED_ARN, region="us-east-1")


def test_bare_runtime_id_needs_account_and_region() -> None:
    target = parse_target("my_agent-AbCdEf1234", account_id="123456789012", region="us-east-1")
    assert target.path() == "/runtimes/my_agent-AbCdEf1234/invocations"
    assert target.query() == "accountId=123456789012"
    assert target.with_qualifier("v2").path_and_query() == (
        "/runtimes/my_agent-AbCdEf1234/invocations?accountId=123456789012&qualifier=v2"
    )
    with pytest.raises(InvalidTargetError, match="needs account_id"):
        parse_target("my_agent-AbCdEf1234", region="us-east-1")
    with pytest.raises(InvalidTargetError, match="exactly 12 digits"):
        parse_target("my_agent-AbCdEf1234", account_id="1234", region="us-east-1")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "no runtime given"),
        ("arn:aws:bedrock:us-west-2:123456789012:runtime/x", "expected 'bedrock-agentcore'"),
        ("arn:aws:bedrock-agentcore:us-west-2:12345:runtime/x", "exactly 12 digits"),
        ("arn:aws:bedrock-agentcore:uswest2:123456789012:runtime/x", "not an AWS region"),
        ("arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/", "non-empty id"),
        ("arn:aws:bedrock-agentcore:us-west-2:123456789012:agent/x", "expected 'runtime/"),
        ("arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/a/b", "expected 'runtime/"),
        ("arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/a b", "non-empty id"),
        ("arn:bad:bedrock-agentcore:us-west-2:123456789012:runtime/x", "is not a runtime ARN"),
        ("my agent", "neither a runtime ARN nor a runtime id"),
    ],
)
def test_malformed_targets_name_the_problem(value: str, message: str) -> None:
    with pytest.raises(InvalidTargetError, match=message) as info:
        parse_target(value, account_id="123456789012", region="us-west-2")
    assert isinstance(info.value, ValueError)  # usable in `except ValueError` too


def test_qualifier_cannot_break_the_query() -> None:
    target = parse_target(SEED_ARN, qualifier="prod&accountId=1")
    assert target.query() == "qualifier=prod%26accountId%3D1"
    with pytest.raises(InvalidTargetError, match="qualifier"):
        parse_target(SEED_ARN, qualifier="prod 1")
    with pytest.raises(InvalidTargetError, match="qualifier"):
        parse_target(SEED_ARN, qualifier="")
