"""LangChain's own standard test suites for ChatAgentCore (langchain-tests)."""

from __future__ import annotations

from typing import Any

from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests
from support.langchain_runtime import shared_runtime

from langchain_agentcore import ChatAgentCore

UNIT_ARN = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/unit-test-agent"


SERDES_XFAIL = (
    "langchain-core's load(allowed_objects='all') admits only the classes listed in "
    "langchain_core.load.mapping, a list no third-party package can join; the snapshot part of "
    "this test passes first, and test_chat_model.py::test_serdes_round_trip runs the same "
    "dumpd/snapshot/load round trip with allowed_objects=[ChatAgentCore]"
)


class TestChatAgentCoreUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatAgentCore]:
        return ChatAgentCore

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "model": UNIT_ARN,
            "endpoint_url": "http://127.0.0.1:9",
            "aws_access_key_id": "AKIAUNITTEST00000001",
            "aws_secret_access_key": "unit-test-secret",
        }

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {
                "AWS_ACCESS_KEY_ID": "AKIAFROMENV000000001",
                "AWS_SECRET_ACCESS_KEY": "secret-from-env",
                "AWS_SESSION_TOKEN": "token-from-env",
                "AGENTCORE_BEARER_TOKEN": "bearer-from-env",
                "AWS_REGION": "us-west-2",
                "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": "http://127.0.0.1:9",
            },
            {"model": UNIT_ARN},
            {
                "aws_access_key_id": "AKIAFROMENV000000001",
                "aws_secret_access_key": "secret-from-env",
                "aws_session_token": "token-from-env",
                "bearer_token": "bearer-from-env",
                "region_name": "us-west-2",
                "endpoint_url": "http://127.0.0.1:9",
            },
        )

    @property
    def has_tool_calling(self) -> bool:
        return False  # agents run their own tools (README: out of scope)

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def model_override_value(self) -> str:
        return UNIT_ARN.replace("unit-test-agent", "other-agent")


class TestChatAgentCoreIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatAgentCore]:
        return ChatAgentCore

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return shared_runtime().params()

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def supports_json_mode(self) -> bool:
        return False

    @property
    def supports_image_inputs(self) -> bool:
        return False

    @property
    def supports_image_urls(self) -> bool:
        return False

    @property
    def supports_pdf_inputs(self) -> bool:
        return False

    @property
    def supports_audio_inputs(self) -> bool:
        return False

    @property
    def supports_anthropic_inputs(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return shared_runtime().other
