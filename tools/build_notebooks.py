#!/usr/bin/env python3
"""Build the course notebooks from their sources, execute them, and save them with outputs.

Usage: .venv/bin/python tools/build_notebooks.py [NN ...]     (default: all)

Each notebook has one source, ``notebooks/src/NN_name.py``, in the "percent"
format editors know (``# %%`` starts a code cell, ``# %% [markdown]`` a text
cell whose lines are ``# ``-commented; ``tags=[...]`` after the marker sets
cell tags). From it come two notebooks:

* ``notebooks/NN_name.ipynb``: cells tagged ``solution`` are left out, so the
  exercise cells (tagged ``exercise``) stay open for the learner;
* ``notebooks/solutions/NN_name.ipynb``: each ``exercise`` cell is replaced by
  the ``solution`` cell that follows it (only notebooks that have solutions).

Both are executed top to bottom in a fresh kernel (tools/run_notebooks.py) and
saved with their outputs, which is what ``pytest --nbval`` compares against.
"""

import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_notebooks import KERNELSPEC, run  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "notebooks" / "src"
MARK = re.compile(r"^# %%(?P<md> \[markdown\])?(?:\s+tags=\[(?P<tags>[^\]]*)\])?\s*$")


def parse(text: str) -> list[dict]:
    """Split a percent-format source into cells: {"kind", "tags", "source"}."""
    cells, current = [], None
    for line in text.splitlines():
        m = MARK.match(line)
        if m:
            if current:
                cells.append(current)
            tags = [t.strip().strip("\"'") for t in (m.group("tags") or "").split(",") if t.strip()]
            current = {"kind": "markdown" if m.group("md") else "code", "tags": tags, "lines": []}
            continue
        if current is None:
            continue  # text before the first marker (a module docstring) is not part of the notebook
        if current["kind"] == "markdown":
            line = line[2:] if line.startswith("# ") else line[1:] if line.startswith("#") else line
        current["lines"].append(line)
    if current:
        cells.append(current)
    for c in cells:
        while c["lines"] and not c["lines"][-1].strip():
            c["lines"].pop()
        while c["lines"] and not c["lines"][0].strip():
            c["lines"].pop(0)
        c["source"] = "\n".join(c.pop("lines"))
    return cells


def notebook(cells: list[dict], solution: bool):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)  # what JupyterLab writes
    nb.metadata["language_info"] = {"name": "python"}
    out = []
    for i, c in enumerate(cells):
        if "solution" in c["tags"]:
            continue
        if solution and "exercise" in c["tags"]:
            sol = next((s for s in cells[i + 1 :] if "solution" in s["tags"]), None)
            if sol is not None:
                c = sol
        make = (
            nbformat.v4.new_markdown_cell if c["kind"] == "markdown" else nbformat.v4.new_code_cell
        )
        cell = make(c["source"])
        cell.id = (
            f"cell-{len(out):03d}"  # stable ids: nbformat would draw random ones on every build
        )
        tags = [t for t in c["tags"] if t not in ("solution",)]
        if tags:
            cell.metadata["tags"] = tags
        out.append(cell)
    nb.cells = out
    return nb


def build(src: Path) -> None:
    cells = parse(src.read_text(encoding="utf-8"))
    targets = [(ROOT / "notebooks" / f"{src.stem}.ipynb", False)]
    if any("solution" in c["tags"] for c in cells):
        targets.append((ROOT / "notebooks" / "solutions" / f"{src.stem}.ipynb", True))
    for path, solution in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook(cells, solution), path)
        print(f"{path.relative_to(ROOT)}: {run(path):.1f} s")


def main(argv):
    sources = sorted(SRC.glob("*.py"))
    if argv:
        sources = [s for s in sources if any(s.name.startswith(a) for a in argv)]
    for src in sources:
        build(src)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
