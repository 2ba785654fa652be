"""The notebooks run top to bottom (their cells assert their own claims)."""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
# The four longest (25-40 s each on 2 cores) run in `make test-all` only, so `make test` stays within 10 minutes;
# what they show is tested on its own (test_covariates, test_population, test_forecast, test_panel).
LONG = {"airline.ipynb", "covariates.ipynb", "m3.ipynb", "populations.ipynb"}


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.name in LONG else p
                                  for p in NOTEBOOKS], ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("JAXSERIES_NOTEBOOK_QUICK", "1")  # notebooks with a long whole-data run take a subset
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
