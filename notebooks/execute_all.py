"""Re-runs every notebook in place, outputs saved (`make notebooks`), so a reader browsing the repository sees the
results and the plots. The test suite runs the same notebooks on copies, with JAXSERIES_NOTEBOOK_QUICK=1."""

import pathlib
import sys

import nbformat
from nbclient import NotebookClient

here = pathlib.Path(__file__).parent
for path in sorted(here.glob("*.ipynb")) if len(sys.argv) == 1 else [pathlib.Path(p) for p in sys.argv[1:]]:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(here)}}).execute()
    nbformat.write(notebook, path)
    print(f"executed {path.name}")
