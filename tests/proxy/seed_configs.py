"""The seed's configs and the served config of the proxy tests, and the objects the fixtures
hand to them (importable by name from the test modules: ``conftest`` itself is not, once
another directory's conftest is loaded first)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy_support import Runtime

from agentcore_bridge.proxy import ProxyConfig

# The seed's (LiteLLM docs) two config.yaml examples, verbatim.
SEED_CONFIG_1 = """\
model_list:
  - model_name: agentcore-runtime-1
    litellm_params:
      model: bedrock/agentcore/arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my-agent-runtime
      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
      aws_region_name: us-west-2

  - model_name: agentcore-runtime-2
    litellm_params:
      model: bedrock/agentcore/arn:aws:bedrock-agentcore:us-east-1:987654321098:runtime/production-runtime
      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
      aws_region_name: us-east-1
"""

SEED_CONFIG_2 = """\
model_list:
  - model_name: agentcore-runtime-prod
    litellm_params:
      model: bedrock/agentcore/arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my-agent-runtime
      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
      aws_region_name: us-west-2
      qualifier: production
"""

MASTER_KEY = "sk-proxy-master-key-7f3c2a9d41e8b065"
ECHO_MODEL = "agentcore-echo"
THROTTLED_MODEL = "agentcore-throttled"
BAD_SECRET_MODEL = "agentcore-bad-secret"
BAD_SECRET = "wrong-secret-access-key-do-not-leak-0042"
SEED_ARN_1 = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/my-agent-runtime"
SEED_ARN_2 = "arn:aws:bedrock-agentcore:us-east-1:987654321098:runtime/production-runtime"
ECHO_ARN = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/echo-runtime"
THROTTLED_ARN = "arn:aws:bedrock-agentcore:us-west-2:123456789012:runtime/throttled-runtime"


def model_entry(name: str, arn: str, **extra: Any) -> str:
    """One more model_list item in the seed's layout (credentials from the environment)."""
    lines = [
        f"  - model_name: {name}",
        "    litellm_params:",
        f"      model: bedrock/agentcore/{arn}",
        "      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID",
        f"      aws_secret_access_key: {extra.pop('secret', 'os.environ/AWS_SECRET_ACCESS_KEY')}",
        "      aws_region_name: us-west-2",
        *(f"      {key}: {value}" for key, value in extra.items()),
    ]
    return "\n".join(lines) + "\n"


# The config the shared proxy serves: seed example 1, then seed example 2's entry, then ours,
# then the master key appended as general_settings.
SERVED_CONFIG = (
    SEED_CONFIG_1
    + "\n"
    + SEED_CONFIG_2.split("model_list:\n", 1)[1]
    + "\n"
    + model_entry(ECHO_MODEL, ECHO_ARN)
    + model_entry(THROTTLED_MODEL, THROTTLED_ARN, max_retries=0)
    + model_entry(BAD_SECRET_MODEL, ECHO_ARN, secret=BAD_SECRET, max_retries=0)
    + f"\ngeneral_settings:\n  master_key: {MASTER_KEY}\n"
)


@dataclass
class Proxy:
    url: str
    config: ProxyConfig
    runtime: Runtime

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {MASTER_KEY}"}
