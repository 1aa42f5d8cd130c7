#!/usr/bin/env python3
"""Execute notebooks in place, top to bottom in a fresh kernel, and save them with outputs.

Usage: .venv/bin/python tools/run_notebooks.py [NOTEBOOK ...]   (default: every notebook)

This is how notebooks are saved before a commit, so that `pytest --nbval`
compares against outputs of a clean run. Widget state is stored in the
notebook metadata (nbclient's default), so static renderers show the last
state of the controls.
"""

import json
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    elapsed = time.perf_counter() - start
    if not _has_widgets(nb):
        nb.metadata.pop("widgets", None)
    nbformat.write(_stable_widget_ids(nb, path.stem), path)
    return elapsed


_MODEL_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


def _stable_widget_ids(nb, name: str):
    """Rename ipywidgets' random model ids to ids numbered in order of appearance.

    ipywidgets names each widget model with a fresh uuid4; saved as is, every
    run would change the notebook. Renaming them consistently everywhere (the
    outputs and the saved widget state, which refer to each other) keeps the
    saved notebook the same run after run.
    """
    text = json.dumps(nb)
    ids = []
    for found in _MODEL_ID.findall(json.dumps(nb.metadata.get("widgets", {}))):
        if found not in ids:
            ids.append(found)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view and view.get("model_id") not in ids:
                ids.append(view["model_id"])
    mapping = {old: f"{name[:12]}-{i:04d}".ljust(32, "0")[:32] for i, old in enumerate(ids)}
    text = _MODEL_ID.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)
    return nbformat.from_dict(json.loads(text))


def _has_widgets(nb) -> bool:
    return any(
        "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )


def main(argv):
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").rglob("[0-9]*.ipynb"))
    for p in paths:
        if ".ipynb_checkpoints" in p.parts:
            continue
        print(f"{p.relative_to(ROOT) if p.is_absolute() else p}: {run(p):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
