"""The analyst notebooks: committed without outputs, no functions or classes of their own (they import
from the packages), and each runs top to bottom on a small generated export (nbclient, in order, sharing
one working directory as an analyst would)."""

from __future__ import annotations

import ast
import os
import time
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = ("01_explore.ipynb", "02_evaluate.ipynb", "03_whatif_and_plan.ipynb")
PACKAGES = ("features", "training", "serving")
CELL_TIMEOUT_S = 300
TOTAL_BUDGET_S = 240  # the three together, on a 2-core CI machine


def _read(name: str) -> object:
    return nbformat.read(NOTEBOOKS_DIR / name, as_version=4)


def _imported_modules(tree: ast.AST) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stripped_and_defines_nothing(name: str) -> None:
    notebook = _read(name)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{name} has no code"
    imported: set[str] = set()
    for cell in code:
        assert cell.outputs == [], f"{name}: outputs are committed (strip them)"
        assert cell.execution_count is None, f"{name}: execution counts are committed"
        tree = ast.parse(cell.source)
        defined = [type(node).__name__ for node in ast.walk(tree)
                   if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))]
        assert defined == [], f"{name}: a cell defines {defined}; put it in a package and import it"
        imported |= _imported_modules(tree)
    assert imported & set(PACKAGES), f"{name} uses none of the packages"
    assert "widgets" not in notebook.metadata  # no saved widget state either


@pytest.mark.slow
def test_notebooks_run_top_to_bottom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient import NotebookClient

    monkeypatch.setenv("KOMPETENSI_NOTEBOOK_DIR", str(tmp_path / "work"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "matplotlib"))
    started = time.monotonic()
    seconds = {}
    for name in NOTEBOOKS:
        notebook = _read(name)
        began = time.monotonic()
        client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOKS_DIR.parent)}})
        client.execute()  # raises CellExecutionError, naming the cell, on any error
        seconds[name] = round(time.monotonic() - began, 1)
        errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs
                  if o.get("output_type") == "error"]
        assert errors == [], name
        shown = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
        assert shown, f"{name} shows nothing"
    assert (tmp_path / "work" / "export" / "export.json").is_file()  # the notebooks wrote where told
    assert time.monotonic() - started < TOTAL_BUDGET_S, seconds
    assert os.environ["KOMPETENSI_NOTEBOOK_DIR"] == str(tmp_path / "work")
