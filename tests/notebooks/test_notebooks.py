"""Every notebook in notebooks/ runs end to end in a real Jupyter kernel, twice.

``local``: as a newcomer runs it, with no AWS configuration, so each notebook starts its own
local AgentCore runtime. ``arn``: as someone with a deployed runtime runs it, with
``AGENTCORE_RUNTIME_ARN`` and the AWS environment set, here pointing at a local runtime this
module starts in place of AWS (hosting the Strands-shaped demo agent as ``my-agent-runtime``
with a ``production`` endpoint). The kernel inherits this process's environment.

Notebooks are executed as copies in memory; the committed files must stay free of outputs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import nbclient
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from agentcore_bridge.local import LocalRuntime
from agentcore_bridge.local.agents import strands_stream

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOK_PATHS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NOTEBOOKS = [pytest.param(path, id=path.stem) for path in NOTEBOOK_PATHS]
KERNEL_NAME = "python3"
CELL_TIMEOUT = 120

# Variables that would make a notebook call somewhere else than this test intends.
ROUTING_VARIABLES = (
    "AGENTCORE_RUNTIME_ARN",
    "AGENTCORE_QUALIFIER",
    "AGENTCORE_BEARER_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE",
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
)


def output_problems(notebook: nbformat.NotebookNode) -> list[str]:
    """Why a notebook is not commit-ready: outputs, execution counts or timing metadata left."""
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {index} has outputs")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {index} has execution_count {cell.execution_count}")
        if "execution" in cell.get("metadata", {}):
            problems.append(f"cell {index} has execution timing metadata")
    return problems


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``python3`` kernelspec for this interpreter (the venv's), first on JUPYTER_PATH, so the
    notebooks never run in some other Python that happens to own a ``python3`` kernel."""
    from ipykernel.kernelspec import install

    prefix = tmp_path_factory.mktemp("kernelspec")
    install(prefix=str(prefix), kernel_name=KERNEL_NAME)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        assert spec.argv[0] == sys.executable, spec.argv
        yield KERNEL_NAME


@pytest.fixture(scope="module")
def deployed_runtime() -> Iterator[tuple[LocalRuntime, str]]:
    """Stands in for a runtime deployed to AWS: the notebooks only learn its ARN and endpoint."""
    logger = logging.getLogger("bedrock_agentcore.app")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with LocalRuntime() as runtime:
            arn = runtime.add_agent(
                "my-agent-runtime", strands_stream.app, qualifiers=("production",)
            )
            yield runtime, arn
    finally:
        logger.setLevel(level)


def execute(path: Path, kernel_name: str, workdir: Path) -> nbformat.NotebookNode:
    """Run a copy of the notebook in a fresh kernel; a failing cell raises CellExecutionError."""
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    return notebook


@pytest.mark.network
@pytest.mark.parametrize("mode", ["local", "arn"])
@pytest.mark.parametrize("path", NOTEBOOKS)
def test_notebook_runs(
    path: Path,
    mode: str,
    kernel: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for name in ROUTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if mode == "arn":
        runtime, arn = request.getfixturevalue("deployed_runtime")
        for name, value in runtime.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AGENTCORE_RUNTIME_ARN", arn)
        monkeypatch.setenv("AGENTCORE_QUALIFIER", "production")
        calls_before = len(runtime.invocations)
    committed = path.read_bytes()

    executed = execute(path, kernel, tmp_path)

    code_cells = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert code_cells and all(cell.execution_count is not None for cell in code_cells)
    errors = [o for cell in code_cells for o in cell.outputs if o.output_type == "error"]
    assert errors == []
    assert output_problems(executed)  # the check below would catch an executed notebook
    assert path.read_bytes() == committed  # the committed file was not written
    assert list(tmp_path.iterdir()) == []  # nothing left in the kernel's working directory
    if mode == "arn":
        # The notebook called the runtime named by AGENTCORE_RUNTIME_ARN.
        assert len(runtime.invocations) > calls_before


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert output_problems(notebook) == [], f"strip the outputs of {path.name}"


def test_output_check_rejects_outputs() -> None:
    stripped = new_notebook(cells=[new_markdown_cell("# Title"), new_code_cell("print(1)")])
    assert output_problems(stripped) == []

    executed = new_notebook(
        cells=[
            new_code_cell("x = 1", execution_count=1),
            new_code_cell("print(1)", outputs=[new_output("stream", name="stdout", text="1\n")]),
        ]
    )
    assert output_problems(executed) == [
        "cell 0 has execution_count 1",
        "cell 1 has outputs",
    ]


def test_notebooks_are_found() -> None:
    assert [path.name for path in NOTEBOOK_PATHS] == [
        "01_langchain_quickstart.ipynb",
        "02_llamaindex_rag.ipynb",
        "03_openai_format.ipynb",
        "04_develop_offline.ipynb",
    ]
