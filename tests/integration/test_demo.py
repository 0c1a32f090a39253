"""`make demo` runs the main job against the embedded local runtime and exits 0."""

import subprocess
import sys


def test_demo_runs_offline_and_shows_the_main_job() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}  # no AWS configuration at all
    result = subprocess.run(
        [sys.executable, "-m", "agentcore_bridge.demo"],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "You asked: What time is it in Tokyo?. Here is my answer." in out
    assert "[Let me think about ][that. ]" in out  # streamed delta by delta
    assert "20 answers" in out
    assert 'second call sends {"prompt": "What did I say?"}' in out
    assert "usage: prompt_tokens=34 completion_tokens=12 total_tokens=46" in out
    assert result.stderr.count('"level": "INFO"') == 0
