# Every target works on a machine with only Python 3.11: uv is bootstrapped into .tools/ when absent.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)

.PHONY: demo test lint wheel-test sync clean bench bench-instructions

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv>=0.5"

sync: $(UV)
	$(UV) sync --all-extras --locked

demo: sync
	$(UV) run --locked python demo.py

test: sync
	$(UV) run --locked pytest

lint: sync
	$(UV) run --locked ruff check .
	$(UV) run --locked ruff format --check .
	$(UV) run --locked mypy
	$(UV) run --locked lint-imports

# Benchmarks side by side with the baselines (LiteLLM, boto3, raw HTTP), which live only in the
# bench dependency group; results go to docs/benchmarks.md.
bench: $(UV)
	$(UV) sync --all-extras --locked --group bench
	$(UV) run --locked --group bench python benchmarks/run.py --write docs/benchmarks.md
	$(UV) run --locked --group bench python benchmarks/scale_bench.py --write docs/benchmarks-scale.md

# Instructions per call (callgrind: repeatable where timings are not), this tree next to
# BASELINE (a git revision). Needs valgrind and a C compiler.
BASELINE ?= 2220dc1
bench-instructions: $(UV)
	$(UV) run --locked --group bench python benchmarks/instructions.py --baseline $(BASELINE)

# The unit tests against the built wheel, installed without the source tree on the path, so a
# packaging mistake cannot hide behind the editable install.
wheel-test: $(UV)
	rm -rf dist .wheel-venv
	$(UV) build --wheel --out-dir dist
	$(UV) venv --quiet .wheel-venv
	$(UV) pip install --quiet --python .wheel-venv/bin/python "$$(ls dist/*.whl)[all]" \
		pytest hypothesis pytest-asyncio pytest-timeout
	.wheel-venv/bin/python -c "import agentcore_bridge as m; assert '.wheel-venv' in m.__file__, m.__file__"
	cd tests && ../.wheel-venv/bin/python -m pytest -p no:cacheprovider -c ../pyproject.toml \
		--rootdir .. unit

clean:
	rm -rf .venv .tools .wheel-venv dist
