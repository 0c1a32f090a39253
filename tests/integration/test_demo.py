"""`make demo` runs the main job against the embedded local runtime and exits 0."""

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "demo.py"


def test_demo_runs_offline_and_shows_the_main_job() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}  # no AWS configuration at all
    result = subprocess.run(
        [sys.executable, str(DEMO)],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert (
        "You asked: You are terse.\n   | \n   | User: What time is it in Tokyo?. Here is my answer."
        in out
    )
    assert "'input_tokens': 34, 'output_tokens': 12, 'total_tokens': 46" in out
    assert "[Let me think about ][that. ][You asked: ][Tell me a story]" in out  # delta by delta
    assert "The office opens at 9." in out  # the query engine's context reached the agent
    assert r'first call  sent {"prompt": "You are terse.\n\nUser: Hi"}' in out
    assert 'second call sent {"prompt": "What did I say?"}' in out
    assert "20 answers" in out
    assert "usage: prompt_tokens=34 completion_tokens=12 total_tokens=46" in out
    assert "[Streamed][ answer][ for you.]" in out  # the A2A agent's artifact chunks
    assert "the agent asks: 'What is your name?' (task state input-required)" in out
    assert "same session, the task continues: Hello, Ada." in out
    assert result.stderr.count('"level": "INFO"') == 0


def test_demo_runs_against_the_runtime_in_agentcore_runtime_arn() -> None:
    import logging

    from agentcore_bridge.local import LocalRuntime
    from agentcore_bridge.local.agents import strands_stream

    logging.getLogger("bedrock_agentcore.app").setLevel(logging.WARNING)
    with LocalRuntime() as runtime:
        arn = runtime.add_agent("deployed-agent", strands_stream.app)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": "/nonexistent",
            "AGENTCORE_RUNTIME_ARN": arn,
            **runtime.environment(),  # endpoint, SigV4 credentials, region: as for AWS
        }
        before = len(runtime.invocations)
        result = subprocess.run(
            [sys.executable, str(DEMO)],
            capture_output=True, text=True, timeout=120, env=env, check=False,
        )  # fmt: skip
        calls = runtime.invocations[before:]
    assert result.returncode == 0, result.stderr
    assert f"calling the runtime in AGENTCORE_RUNTIME_ARN: {arn}" in result.stdout
    assert "local AgentCore runtime on" not in result.stdout  # no embedded runtime started
    assert "set AGENTCORE_A2A_RUNTIME_ARN" in result.stdout
    assert len(calls) >= 25  # every step went to that runtime
    assert {c.status for c in calls} == {200}
