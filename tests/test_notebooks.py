"""The notebooks in `notebooks/` run headless, in small mode, without errors.

Each notebook is executed with nbclient in a fresh kernel whose environment has `WORKBENCH_SMALL=1`
(the notebooks read it in their first code cell and pick small parameters) and whose working
directory is a temporary folder, so nothing is written into the repository. The stored notebooks
must carry no outputs (they are committed cleared).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
jupytext = pytest.importorskip("jupytext")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
HDL_NOTEBOOKS = ("04_",)  # need GHDL, Icarus, Verilator and Yosys (the `hdl` marker)
TIMEOUT_PER_CELL_S = 150
TIMEOUT_PER_NOTEBOOK_S = 240


EXPECTED_PREFIXES = ("01_", "02_", "03_", "04_", "05_")


def test_notebooks_exist():
    """The walkthroughs are there (a missing one would otherwise just not be collected)."""
    names = [p.name for p in NOTEBOOKS]
    for prefix in EXPECTED_PREFIXES:
        assert any(n.startswith(prefix) for n in names), f"no notebook {prefix}* in {names}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_stored_without_outputs(path: Path):
    """Committed notebooks are cleared and keep the metadata papermill/nbclient need."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    assert nb.metadata.get("language_info", {}).get("name") == "python"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} of {path.name} has stored outputs"
            assert cell.execution_count is None, f"cell {index} of {path.name} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_pair_in_sync(path: Path):
    """The py:percent script and the .ipynb hold the same cells (jupytext pairing)."""
    script = path.with_suffix(".py")
    assert script.is_file(), f"{path.name} has no paired {script.name}"
    paired = jupytext.read(script)
    stored = nbformat.read(path, as_version=4)
    assert "py:percent" in stored.metadata.get("jupytext", {}).get("formats", ""), f"{path.name} is not paired"
    cells = [(c.cell_type, c.source) for c in stored.cells]
    assert len(cells) > 3
    assert [(c.cell_type, c.source) for c in paired.cells] == cells, \
        f"{script.name} and {path.name} differ: run `jupytext --sync {script}`"


def _run_params() -> list:
    return [pytest.param(p, id=p.stem, marks=[pytest.mark.hdl] if p.name.startswith(HDL_NOTEBOOKS) else [])
            for p in NOTEBOOKS]


@pytest.mark.timeout(TIMEOUT_PER_NOTEBOOK_S + 60)
@pytest.mark.parametrize("path", _run_params())
def test_notebook_runs_in_small_mode(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Every code cell of the notebook executes without error (small parameters, temp working dir)."""
    monkeypatch.setenv("WORKBENCH_SMALL", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    # The kernel imports this checkout's `workbench`, whatever the venv's install points at.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    # Keep generated datasets and caches out of the repository as well.
    monkeypatch.setenv("WORKBENCH_NOTEBOOK_OUT", str(tmp_path / "out"))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT_PER_CELL_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    start = time.monotonic()
    client.execute()  # raises CellExecutionError on the first failing cell
    elapsed = time.monotonic() - start
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells, f"{path.name} has no code cells"
    errors = [o for c in code_cells for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, errors
    assert all(c.execution_count is not None for c in code_cells), "some cells did not run"
    assert elapsed < TIMEOUT_PER_NOTEBOOK_S, f"{path.name} took {elapsed:.0f} s in small mode"
