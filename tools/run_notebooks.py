#!/usr/bin/env python3
"""Execute notebooks in place, top to bottom in a fresh kernel, and save them with outputs.

Usage: .venv/bin/python tools/run_notebooks.py [NOTEBOOK ...]   (default: every notebook)

This is how notebooks are saved before a commit, so that `pytest --nbval`
compares against outputs of a clean run. Widget state is stored in the
notebook metadata (nbclient's default), so static renderers show the last
state of the controls.
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - start
    nb.metadata.pop("widgets", None) if not _has_widgets(nb) else None
    nbformat.write(nb, path)
    return elapsed


def _has_widgets(nb) -> bool:
    return any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def main(argv):
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").rglob("[0-9]*.ipynb"))
    for p in paths:
        if ".ipynb_checkpoints" in p.parts:
            continue
        print(f"{p.relative_to(ROOT) if p.is_absolute() else p}: {run(p):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
