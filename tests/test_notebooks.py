"""The tutorials in ``notebooks/`` run top to bottom and are committed without outputs.

Every ``notebooks/*.ipynb`` is picked up automatically. Execution sets
``TFGAN_NOTEBOOK_SMALL=1`` in the kernel's environment (each notebook shrinks its settings to a
smoke run when it sees it) and starts the kernel in a temporary directory, also its ``TMPDIR``,
so neither relative nor temporary outputs land in the repository or stay behind. The kernel
inherits the session's ``TFDS_DATA_DIR`` from ``conftest.py``, so the built-in dataset is
prepared at most once per test session.
"""

from __future__ import annotations

import os
import pathlib

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from traitlets import default

NOTEBOOK_DIR = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_SECONDS = 600


class NativeKernelManager(AsyncKernelManager):
    """Starts ipykernel's built-in ``python3`` kernel with this interpreter (``sys.executable``).

    Installed kernelspecs are ignored on purpose: a ``python3`` spec in ``~/.local/share/jupyter``
    may point at another environment, where ``tfgan_apps`` is not installed. ipykernel ships the
    native spec, so a plain ``pip install -e ".[dev]"`` is enough (no ``ipykernel install``).
    """

    @default("kernel_spec_manager")
    def _native_kernel_spec_manager(self) -> KernelSpecManager:
        return KernelSpecManager(kernel_dirs=[])


def _notebook_id(path: pathlib.Path) -> str:
    return path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_notebook_id)
def test_notebook_committed_without_outputs(path: pathlib.Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} have outputs or execution counts; clear them before "
        "committing (Jupyter's 'Clear All Outputs', or `jupyter nbconvert --clear-output "
        "--inplace`)"
    )


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_notebook_id)
def test_notebook_runs_top_to_bottom(path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        kernel_manager_class=NativeKernelManager,
        timeout=CELL_TIMEOUT_SECONDS,
        startup_timeout=120,
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    # TMPDIR: the notebooks' temporary outputs land in tmp_path too, which pytest cleans up.
    env = {**os.environ, "TFGAN_NOTEBOOK_SMALL": "1", "TMPDIR": str(tmp_path)}
    # A failing cell raises CellExecutionError carrying the cell's source and traceback.
    client.execute(env=env)


def test_notebooks_found() -> None:
    # Guards the glob: an empty parametrization would silently skip both tests above.
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


def _code(notebook: pathlib.Path) -> str:
    cells = nbformat.read(notebook, as_version=4).cells
    return "\n".join(cell.source for cell in cells if cell.cell_type == "code")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_use_only_the_public_api(notebook):
    import re

    import tfgan_apps

    public = set(tfgan_apps.__all__)
    for module, names in re.findall(r"^from tfgan_apps(\S*) import ([^\n(]+)", _code(notebook),
                                    flags=re.M):
        if module:  # from tfgan_apps.X import ...: X must be a public module
            assert module.lstrip(".").split(".")[0] in public and module.count(".") == 1, module
        else:
            for name in (n.strip() for n in names.split(",")):
                assert name in public, name
    for name in re.findall(r"\btfgan_apps\.(\w+)", _code(notebook)):
        assert name in public or name == "__version__", name


def test_dcgan_notebook_describes_todays_generator():
    text = "\n".join(cell.source for cell in nbformat.read(
        NOTEBOOK_DIR / "01_dcgan_generation.ipynb", as_version=4).cells)
    assert "selects matplotlib's file-only" not in text  # importing never changes the backend
    assert "stride-2 **transposed** convolutions double the size" not in text
    assert "upsampling" in text


def test_serving_notebook_goes_through_the_client_not_the_tests():
    notebook = NOTEBOOK_DIR / "04_serving.ipynb"
    code = _code(notebook)
    text = "\n".join(cell.source for cell in nbformat.read(notebook, as_version=4).cells)
    assert "serving_fakes" not in code and "from tests" not in code and "import tests" not in code
    # the client builds the REST body and decodes the answer; the config and docker command
    for name in ("rest_request", "decode_rest_outputs", "write_models_config", "docker_command",
                 "tf.make_ndarray", "tf_serving_warmup_requests", "export_saved_model"):
        assert name in code, name
    # a real deployment is shown as text, never executed (no server runs in the suite)
    assert "predict_rest(" not in code and "predict_grpc(" not in code
    for shown in ("docker run", "curl", "predict_rest(\"localhost:8501\""):
        assert shown in text, shown
